"""A run's output tables, from a model's per-step records: the long ``timeseries`` table of
the output contract (one row per date x service, the KPI registry's columns in order), the
users by region and service, and the focal cohorts' retention."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.metrics import KPIS, REGION_TIERS, SERVICE_KPIS


def timeseries(model, replicate: int = 0) -> pd.DataFrame:
    """One row per date x service, the KPIs of every step ``model`` has run so far.

    Columns: replicate, date, step, service, focal, then every KPI of the registry in its order
    (a market KPI repeated on each service's row).
    """
    steps, s = model.t, len(model.services)
    frame = {
        "replicate": np.full(steps * s, replicate, dtype=np.int32),
        "date": np.repeat(model.dates[:steps].values, s),
        "step": np.repeat(np.arange(steps, dtype=np.int32), s),
        "service": np.tile(np.array([x.name for x in model.services], dtype=object), steps),
        "focal": np.tile(np.array([x.focal for x in model.services]), steps),
    }
    per_row = dict(zip(SERVICE_KPIS, model.records.values[:steps].reshape(steps * s, len(SERVICE_KPIS)).T))
    for k in KPIS:  # the registry's column order
        frame[k.name] = np.repeat(model.market_records[k.name][:steps], s) if k.market else per_row[k.name]
    return pd.DataFrame(frame)


def regions(model, replicate: int = 0) -> pd.DataFrame:
    """One row per date x region x service of every step ``model`` has run so far, real people:
    replicate, date, region, service, mau, free_users, trial_users, premium_subscribers."""
    steps, (r, s) = model.t, model.region_records.shape[1:3]
    counts = model.region_records[:steps].reshape(steps * r * s, len(REGION_TIERS))
    frame = {
        "replicate": np.full(steps * r * s, replicate, dtype=np.int32),
        "date": np.repeat(model.dates[:steps].values, r * s),
        "region": np.tile(np.repeat(np.array(model.population.region_names, dtype=object), s), steps),
        "service": np.tile(np.array([x.name for x in model.services], dtype=object), steps * r),
        "mau": counts.sum(axis=1),
    }
    frame.update(zip(REGION_TIERS, counts.T))
    return pd.DataFrame(frame)


def cohorts(cohort_counts: dict[str, np.ndarray], dates: pd.DatetimeIndex, steps: int, dt: float,
            replicate: int = 0) -> pd.DataFrame:
    """Focal cohort retention: cohort (start date) x months since start, premium and free.

    ``cohort_counts[tier]`` is (steps, steps + 1): people at step t who started at step c.
    """
    rows = []
    for tier_name, counts in cohort_counts.items():
        size = np.diag(counts[:steps, :steps])
        t_idx, c_idx = np.nonzero(np.tril(np.ones((steps, steps), bool)))
        retained = counts[t_idx, c_idx]
        ok = size[c_idx] > 0
        rows.append(pd.DataFrame({
            "replicate": replicate, "tier": tier_name, "cohort": dates[c_idx[ok]],
            "months_since_start": np.round((t_idx[ok] - c_idx[ok]) * dt).astype(np.int32),
            "cohort_size": size[c_idx[ok]], "retained": retained[ok], "retention": retained[ok] / size[c_idx[ok]],
        }))
    return pd.concat(rows, ignore_index=True)
