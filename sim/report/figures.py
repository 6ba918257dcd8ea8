"""The figures of a run report, one PNG each.

Each `figure_*` function takes the run's long timeseries (replicate x date x
service, real units: people, EUR/month, fractions) and returns a matplotlib
Figure; `make_figures` writes them all with their titles and captions. Axes
show people in millions, money in EUR millions/month and fractions in %.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.metrics import CHURN_REASONS, LOYALTY_STAGES as STAGES
from sim.report.plotting import (
    MILLION,
    PERCENT,
    FigureFile,
    Panel,
    add_outside_legend,
    banded_figure,
    draw_banded_panels,
    format_date_axis,
    mark_not_applicable,
    new_figure,
    plot_band,
    plot_stack,
    save_figure,
)

CHURN_PARTS = {f"churn_{reason}_monthly": label for reason, label in CHURN_REASONS.items()}
LOYALTY_STAGES = {f"loyalty_{s}": s for s in STAGES}


def service_order(timeseries: pd.DataFrame) -> list[str]:
    """Service names with the focal service first, then competitors by name,
    so the focal service keeps the first colour in every figure."""
    flags = timeseries.groupby("service")["focal"].any()
    return sorted(flags.index, key=lambda s: (not flags[s], s))


def focal_rows(timeseries: pd.DataFrame) -> pd.DataFrame:
    """The rows of the focal service (replicate x date)."""
    return timeseries[timeseries["focal"].astype(bool)]


def focal_name(timeseries: pd.DataFrame) -> str:
    """Name of the focal service, for titles."""
    return str(focal_rows(timeseries)["service"].iloc[0])


def figure_users_by_tier(ts: pd.DataFrame) -> Figure:
    """Free, trial and premium users of every service (millions of people)."""
    panels = [
        Panel("free_users", "Free users\n(millions)", MILLION),
        Panel("trial_users", "Trial users\n(millions)", MILLION),
        Panel("premium_subscribers", "Premium subscribers\n(millions)", MILLION),
    ]
    return banded_figure(ts, panels, "service", service_order(ts), "Users by tier and service")


def figure_subscribers_mau(ts: pd.DataFrame) -> Figure:
    """Focal service's monthly active users and premium subscribers over the
    whole horizon, on one axis (millions of people)."""
    focal = focal_rows(ts)
    fig, (ax,) = new_figure(1, f"{focal_name(ts)}: MAU and premium subscribers", 4.0)
    plot_band(ax, focal, "mau", MILLION, "monthly active users (MAU)")
    plot_band(ax, focal, "premium_subscribers", MILLION, "premium subscribers")
    ax.set_ylabel("People (millions)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    format_date_axis(ax, ts["date"])
    add_outside_legend(fig, [ax])
    return fig


def figure_revenue_split(ts: pd.DataFrame) -> Figure:
    """Focal service's revenue from subscriptions and ads (stacked, EUR
    millions/month) and the ads' share of revenue (%)."""
    focal = focal_rows(ts)
    fig, (top, bottom) = new_figure(2, f"{focal_name(ts)}: revenue by source")
    if not plot_stack(top, focal, ["revenue_subscription_eur", "revenue_ads_eur"],
                      ["subscriptions", "ads"], MILLION):
        mark_not_applicable(top)
    top.set_ylabel("Revenue\n(EUR millions/month)")
    if not plot_band(bottom, focal, "ad_revenue_share", PERCENT, "ad share of revenue"):
        mark_not_applicable(bottom, "no free tier")
    bottom.set_ylabel("Ad share of\nrevenue (%)")
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    format_date_axis(bottom, ts["date"])
    add_outside_legend(fig, [top, bottom])
    return fig


def figure_churn(ts: pd.DataFrame) -> Figure:
    """Focal service's monthly churn split by reason (stacked, % of the base
    per month)."""
    fig, (ax,) = new_figure(1, f"{focal_name(ts)}: churn by reason", 4.0)
    if not plot_stack(ax, focal_rows(ts), list(CHURN_PARTS), list(CHURN_PARTS.values()), PERCENT):
        mark_not_applicable(ax)
    ax.set_ylabel("Churn (% per month)")
    ax.grid(alpha=0.3)
    format_date_axis(ax, ts["date"])
    add_outside_legend(fig, [ax], title="reason")
    return fig


def retention_matrix(cohorts: pd.DataFrame, tier: str) -> pd.DataFrame:
    """Mean retention across replicates as a matrix: rows are cohort start
    months (every month between the first and last cohort, empty ones NaN),
    columns months since start (0..max), values fractions 0-1."""
    rows = cohorts[cohorts["tier"] == tier]
    matrix = rows.pivot_table(index="cohort", columns="months_since_start",
                              values="retention", aggfunc="mean")
    months = pd.date_range(matrix.index.min(), matrix.index.max(), freq="MS")
    return matrix.reindex(index=months, columns=range(int(matrix.columns.max()) + 1))


def figure_cohort_retention(cohorts: pd.DataFrame, service: str) -> Figure:
    """Heatmaps of the share of each start-month cohort still with the focal
    service n months later, one panel per tier (premium, free)."""
    fig, axes = new_figure(2, f"{service}: cohort retention", 3.4)
    mesh = None
    for ax, tier in zip(axes, ("premium", "free")):
        ax.set_title(f"{tier} cohorts", fontsize=10, loc="left")
        ax.set_ylabel("Cohort start")
        if not (cohorts["tier"] == tier).any():
            mark_not_applicable(ax)
            continue
        matrix = retention_matrix(cohorts, tier)
        x_edges = np.arange(matrix.shape[1] + 1) - 0.5
        y_edges = pd.date_range(matrix.index[0], periods=len(matrix) + 1, freq="MS")
        mesh = ax.pcolormesh(x_edges, y_edges, matrix.to_numpy() * PERCENT,
                             cmap="viridis", vmin=0, vmax=100, shading="flat")
        ax.yaxis_date()
        ax.invert_yaxis()  # oldest cohort on top, as retention tables are read
    axes[-1].set_xlabel("Months since start")
    if mesh is not None:
        fig.colorbar(mesh, ax=axes, label="Retained (% of cohort)", shrink=0.9)
    return fig


def figure_ad_market(ts: pd.DataFrame) -> Figure:
    """The free-tier ad market of every service that sells ads: clearing CPM
    (EUR per 1000 impressions), fill rate (%) and impressions sold (millions
    per month)."""
    panels = [
        Panel("cpm_eur", "CPM\n(EUR / 1000 impr.)"),
        Panel("fill_rate", "Fill rate\n(% of inventory)", PERCENT),
        Panel("impressions", "Impressions sold\n(millions/month)", MILLION),
    ]
    return banded_figure(ts, panels, "service", service_order(ts), "Ad market")


def figure_support(ts: pd.DataFrame) -> Figure:
    """Customer-support response time of every service (hours)."""
    panels = [Panel("support_response_hours", "Response time (hours)")]
    fig, axes = new_figure(1, "Customer support response time", 3.6)
    draw_banded_panels(axes, ts, panels, "service", service_order(ts))
    axes[0].set_ylim(bottom=0)
    format_date_axis(axes[0], ts["date"])
    add_outside_legend(fig, axes)
    return fig


def figure_satisfaction_loyalty(ts: pd.DataFrame) -> Figure:
    """Mean satisfaction of every service's users (0-1) and the focal
    service's loyalty-ladder shares (stacked, % of its users)."""
    fig, (top, bottom) = new_figure(2, "Satisfaction and loyalty ladder", 3.0)
    draw_banded_panels([top], ts, [Panel("satisfaction_mean", "Mean satisfaction\n(0-1)")],
                       "service", service_order(ts))
    add_outside_legend(fig, [top], title="service")
    if not plot_stack(bottom, focal_rows(ts), list(LOYALTY_STAGES),
                      list(LOYALTY_STAGES.values()), PERCENT):
        mark_not_applicable(bottom)
    bottom.set_ylim(0, 100)
    bottom.set_ylabel(f"{focal_name(ts)} users\nby stage (%)")
    # The stack has its own legend beside its panel: its labels are stages, not services.
    bottom.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, title="stage")
    format_date_axis(bottom, ts["date"])
    return fig


def figure_market_shares(ts: pd.DataFrame) -> Figure:
    """Each service's share of all streaming users and of all premium
    subscribers (%)."""
    panels = [
        Panel("market_share", "Share of users (%)", PERCENT),
        Panel("premium_market_share", "Share of premium\nsubscribers (%)", PERCENT),
    ]
    return banded_figure(ts, panels, "service", service_order(ts), "Market shares by service")


def make_figures(fig_dir: Path, timeseries: pd.DataFrame, cohorts: pd.DataFrame) -> list[FigureFile]:
    """Draw every report figure into `fig_dir/*.png`; return them in reading
    order with titles and captions.

    timeseries: one row per replicate x date x service (columns of the run
    output contract); cohorts: focal-service cohort retention rows.
    """
    band = "Lines are medians across replicates, shaded bands the 5-95% range."
    service = focal_name(timeseries)
    specs = [
        ("users_by_tier", figure_users_by_tier(timeseries), "Users by tier and service",
         f"Each panel is one tier; each colour one service. {band}"),
        ("subscribers_mau", figure_subscribers_mau(timeseries), f"{service}: MAU and subscribers",
         f"The gap between the two lines is the free and trial audience. {band}"),
        ("revenue_split", figure_revenue_split(timeseries), f"{service}: revenue by source",
         "Top: mean monthly revenue stacked by source, the top edge is total revenue; "
         f"bottom: ads as a share of revenue. {band}"),
        ("churn", figure_churn(timeseries), f"{service}: churn by reason",
         "Mean monthly churn stacked by reason; the top edge is the total share lost per month."),
        ("cohort_retention", figure_cohort_retention(cohorts, service), f"{service}: cohort retention",
         "Each row is the cohort that joined in that month; read along a row to see how many "
         "of them are still there n months later (mean across replicates)."),
        ("ad_market", figure_ad_market(timeseries), "Ad market",
         f"Price (CPM), share of ad inventory sold, and impressions sold per service. {band}"),
        ("support_response", figure_support(timeseries), "Customer support response time",
         f"Average wait for a support answer; long waits cut satisfaction. {band}"),
        ("satisfaction_loyalty", figure_satisfaction_loyalty(timeseries), "Satisfaction and loyalty",
         "Top: users' mean satisfaction per service (bands as elsewhere); bottom: mean share of "
         f"{service}'s users at each loyalty stage, from prospect to advocate."),
        ("market_shares", figure_market_shares(timeseries), "Market shares by service",
         f"Share of all streaming users and of all premium subscribers. {band}"),
    ]
    return [save_figure(fig, fig_dir, name, title, caption) for name, fig, title, caption in specs]
