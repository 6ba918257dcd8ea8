"""Forecast fan figure: posterior-predictive intervals of one target against its observations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis.calibration import Target
from sim.report.plotting import format_date_axis, new_figure, save_figure

#: Quantiles of a fan and of a parameter's credible interval: the 80% and 95% central intervals, and the median.
QUANTILES = (0.025, 0.10, 0.50, 0.90, 0.975)


def intervals(draws: np.ndarray) -> pd.DataFrame:
    """Per period: median and the 80% and 95% central intervals of draws (n_draws, n_periods).

    Columns ``q2.5, q10, q50, q90, q97.5`` (NaN draws, undefined model values, ignored).
    """
    qs = np.nanquantile(draws, QUANTILES, axis=0)
    return pd.DataFrame({f"q{q * 100:g}": qs[i] for i, q in enumerate(QUANTILES)})


def period_ends(periods: pd.Index) -> pd.DatetimeIndex:
    """The last day of each Period (where a quarter's or a year's point is drawn)."""
    return pd.DatetimeIndex([p.to_timestamp(how="end").normalize() for p in periods])


def fan_figure(target: Target, periods: pd.Index, draws: np.ndarray, fig_dir: Path, name: str,
               observed: pd.Series | None = None, split: pd.Timestamp | None = None, note: str = "",
               median_label: str | None = None) -> Path:
    """``<fig_dir>/<name>.png``: median, 80% and 95% posterior-predictive bands, observed points.

    draws: (n_draws, n_periods) over ``periods`` in the target's unit; observed:
    values indexed by Period (default: the target's); split: the last fitted date,
    drawn as a vertical line (observations after it are held out, drawn hollow); median_label: the
    median's legend entry (default: "median of <n> posterior draws").
    """
    q = intervals(draws)
    x = period_ends(periods)
    observed = target.observed if observed is None else observed
    title = f"{target.name}: posterior-predictive forecast vs observed"
    fig, (ax,) = new_figure(1, title, row_height_in=4.0)
    ax.fill_between(x, q["q2.5"], q["q97.5"], color="tab:blue", alpha=0.18, lw=0, label="95% interval")
    ax.fill_between(x, q["q10"], q["q90"], color="tab:blue", alpha=0.35, lw=0, label="80% interval")
    ax.plot(x, q["q50"], color="tab:blue", lw=1.8, label=median_label or f"median of {draws.shape[0]} posterior draws")
    obs_x = period_ends(observed.index)
    held = np.zeros(len(observed), bool) if split is None else np.asarray(obs_x > split)
    ax.scatter(obs_x[~held], observed.to_numpy()[~held], color="k", s=22, zorder=3, label="observed (fitted)")
    if held.any():
        ax.scatter(obs_x[held], observed.to_numpy()[held], facecolors="white", edgecolors="k", s=26, zorder=3,
                   label="observed (held out)")
    if split is not None:
        ax.axvline(split, color="0.3", ls="--", lw=1)
        ax.text(split, 0.98, " fit | forecast ", transform=ax.get_xaxis_transform(), ha="center", va="top",
                fontsize=9, color="0.3", backgroundcolor="white")
    ax.set_ylabel(f"{target.spec.metric or target.name} ({target.unit})")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", frameon=False)
    if note:
        ax.text(0.99, 0.02, note, transform=ax.transAxes, ha="right", va="bottom", fontsize=10)
    format_date_axis(ax, pd.Series([periods[0].start_time, periods[-1].end_time + pd.Timedelta(days=20)]))
    return save_figure(fig, fig_dir, name, title, "").path
