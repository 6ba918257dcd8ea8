"""A sweep file: which scenario parameters vary, over which values, how many runs, which KPIs to keep.

A sweep file is YAML read with the scenario module's hostile-file-safe reader and
validated into a frozen pydantic model (``extra="forbid"``). Parameters are named by
the scenario's key paths (``services.focal.ad_load``), exactly as ``freemium-sim
params`` lists them, so the scenario schema stays the one source of names, units and
allowed ranges. Every mistake a user can make raises ``ScenarioError`` naming the file
and the key path; the CLI prints it and exits 2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, model_validator

from sim.clock import Clock
from sim.metrics import MARKET_KPIS, SERVICE_KPIS
from sim.scenario import (SAFE_NAME, BasedOn, BasedSpec, Scenario, ScenarioError, YearMonth, apply_overrides, did_you_mean,
                          load_based, parameter_index)

DesignKind = Literal["grid", "lhs", "sobol", "morris"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ParameterSpec(_Strict):
    """The values one scenario parameter takes: a continuous range or a list of levels."""

    low: float | None = Field(None, description="Lower end of the range, in the parameter's unit")
    high: float | None = Field(None, description="Upper end of the range, in the parameter's unit")
    levels: list[StrictBool | StrictInt | StrictFloat | str] | None = Field(
        None, min_length=1, description="Discrete values (numbers, true/false or names); sampled designs pick one by index")
    distribution: Literal["uniform", "loguniform"] = Field(
        "uniform", description="How a sampled design spreads points over [low, high]")

    @model_validator(mode="after")
    def _one_form(self) -> "ParameterSpec":
        if self.levels is not None:
            if self.low is not None or self.high is not None:
                raise ValueError("give either `levels` or `low`/`high`, not both")
            if "distribution" in self.model_fields_set:
                raise ValueError("`distribution` applies to a `low`/`high` range, not to `levels`")
            kinds = {_level_kind(v) for v in self.levels}
            if len(kinds) > 1:
                raise ValueError(f"levels mix {' and '.join(sorted(kinds))}; use one kind of value")
            return self
        if self.low is None or self.high is None:
            raise ValueError("needs `low` and `high` (a range) or `levels: [...]`")
        if not self.low < self.high:
            raise ValueError(f"low ({self.low:g}) must be below high ({self.high:g})")
        if self.distribution == "loguniform" and self.low <= 0:
            raise ValueError(f"a loguniform range needs low > 0 (got {self.low:g})")
        return self

    def candidate_values(self) -> list[Any]:
        """The extreme values a design can set: both ends of the range, or every level."""
        return list(self.levels) if self.levels is not None else [self.low, self.high]


def _level_kind(v: Any) -> str:
    if isinstance(v, bool):
        return "true/false"
    return "numbers" if isinstance(v, (int, float)) else "names"


class DesignSpec(_Strict):
    """Which design points to run: a full grid or a SALib sample."""

    kind: DesignKind = Field(description="grid = every combination of levels; lhs, sobol, morris = SALib samplers")
    n: int | None = Field(None, ge=1, description="lhs: points; sobol: base samples N (a power of 2); morris: trajectories r")
    grid_levels: int | None = Field(None, ge=2, description="grid: evenly spaced levels of each low/high parameter")
    second_order: bool = Field(False, description="sobol: also sample for second-order indices (N*(2D+2) points)")
    num_levels: int = Field(4, ge=2, description="morris: grid levels of each parameter (even)")

    @model_validator(mode="after")
    def _fields_fit_kind(self) -> "DesignSpec":
        only = {"grid_levels": "grid", "second_order": "sobol", "num_levels": "morris"}
        for field, kind in only.items():
            if field in self.model_fields_set and self.kind != kind:
                raise ValueError(f"`{field}` is a {kind} setting; remove it for a {self.kind} design")
        if self.kind == "grid" and self.n is not None:
            raise ValueError("a grid has no `n`: its size is the product of the levels")
        if self.kind != "grid" and self.n is None:
            raise ValueError(f"a {self.kind} design needs `n` ({DesignSpec.model_fields['n'].description})")
        if self.kind == "sobol" and self.n & (self.n - 1):
            lower = 1 << (self.n.bit_length() - 1)
            raise ValueError(f"Sobol' sampling needs n a power of 2 (got {self.n}; try {lower} or {2 * lower})")
        if self.kind == "morris" and self.num_levels % 2:
            raise ValueError(f"Morris needs an even num_levels (got {self.num_levels}; try {self.num_levels + 1})")
        return self


class Window(_Strict):
    """Calendar months, both included."""

    start: YearMonth
    end: YearMonth

    @model_validator(mode="after")
    def _ordered(self) -> "Window":
        if self.end < self.start:
            raise ValueError(f"end ({self.end}) is before start ({self.start})")
        return self


class KpiSpec(_Strict):
    """One number kept per run: a focal-service timeseries column reduced over time."""

    column: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="Focal-service timeseries column, e.g. revenue_total_eur")
    agg: Literal["final", "mean", "cumulative"] = Field(
        description="final = last step; mean = average over the steps; cumulative = sum over the steps in month units")
    window: Window | None = Field(None, description="Calendar months the KPI covers (default: every step)")
    name: str | None = Field(None, pattern=r"^[A-Za-z0-9_.\-]+$", description="Column name in runs.parquet")

    @property
    def key(self) -> str:
        """Column name of this KPI in runs.parquet (``revenue_total_eur_cumulative`` by default)."""
        if self.name:
            return self.name
        suffix = f"_{self.window.start}_{self.window.end}" if self.window else ""
        return f"{self.column}_{self.agg}{suffix}"

    def evaluate(self, focal: pd.DataFrame, months_per_step: float) -> float:
        """The KPI of one run.

        focal: the focal service's rows of the timeseries, one per step in time order,
        with a ``date`` column; months_per_step converts a per-month flow summed over
        steps into a total (1.0 for monthly steps). Units are those of the column
        (a ``cumulative`` of a EUR/month column is EUR). NaN if the window holds no step.
        """
        values = focal[self.column].to_numpy(dtype=float)
        if self.window is not None:
            month = pd.to_datetime(focal["date"]).dt.strftime("%Y-%m").to_numpy()
            values = values[(month >= self.window.start) & (month <= self.window.end)]
            if not values.size:
                return math.nan
        if self.agg == "final":
            return float(values[-1])
        if self.agg == "cumulative":
            return float(values.sum() * months_per_step)
        return float(values.mean())


class SweepSpec(BasedSpec):
    """A whole sweep file (a base scenario plus overrides, ``sim.scenario.based``). Its ``seed`` and ``replicates``
    replace the base scenario's own."""

    WHAT: ClassVar[str] = "sweep"
    name: str = Field(pattern=SAFE_NAME, description="Names the output folder results/sweep-<name>/ (default: file name)")
    description: str = Field("", description="What the sweep asks")
    seed: int = Field(ge=0, description="Root seed of the sampler and of every run")
    replicates: int = Field(1, ge=1, le=1000, description="Runs per design point, each with its own seed")
    common_random_numbers: bool = Field(
        False, description="Every point uses the same replicate seeds, so differences between points are the "
        "parameters' effects and not Monte-Carlo noise (recommended for sobol and morris)")
    design: DesignSpec
    parameters: dict[str, ParameterSpec] = Field(min_length=1, description="Swept parameters by scenario key path")
    kpis: list[KpiSpec] = Field(min_length=1, description="Numbers kept per run")
    keep: list[str] = Field(default_factory=list, description="Focal timeseries columns kept whole per run "
                            "(series.parquet), for envelope plots")

    @model_validator(mode="after")
    def _consistent(self) -> "SweepSpec":
        keys = [k.key for k in self.kpis]
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        if repeated:
            raise ValueError(f"kpis: repeated KPI name {', '.join(repeated)}; give one of them a `name`")
        ranges = [p for p, s in self.parameters.items() if s.levels is None]
        if self.design.kind == "grid" and ranges and self.design.grid_levels is None:
            raise ValueError(f"design: a grid over low/high parameters ({', '.join(ranges)}) needs `grid_levels`")
        return self


@dataclass(frozen=True)
class Sweep(BasedOn[SweepSpec]):
    """A validated sweep with its resolved base scenario (overrides applied) and its integer-valued parameters."""

    integer_parameters: frozenset[str]

    def resolved(self) -> dict[str, Any]:
        """Everything that determines the runs, as JSON-ready data: resuming requires it unchanged."""
        # exclude_unset: the file as written, so it validates again (kind-specific keys stay absent)
        return {"sweep": self.spec.model_dump(mode="json", exclude_unset=True),
                "integer_parameters": sorted(self.integer_parameters),
                "base_scenario": self.base.model_dump(mode="json")}


def load_sweep(path: str | Path) -> Sweep:
    """Read and validate a sweep file and its base scenario; every user error raises ScenarioError."""
    based = load_based(path, SweepSpec)
    spec, base, source = based.spec, based.base, based.source
    _check_kpi_columns(spec, source)
    _check_windows(spec, base, source)
    return Sweep(**vars(based), integer_parameters=_check_parameters(spec, base, source))


def _check_windows(spec: SweepSpec, base: Scenario, source: str) -> None:
    """Every KPI window overlaps the horizon of every point (else a run would report NaN as "ok"): the base
    scenario's, or where ``time.months`` is swept, the shortest it takes. A swept start is not checked."""
    if any(path == "time" or (path.startswith("time.") and path != "time.months") for path in spec.parameters):
        return  # the start differs between points
    swept = spec.parameters.get("time.months")
    months = None if swept is None else min(int(v) for v in swept.candidate_values()
                                            if isinstance(v, (int, float)) and not isinstance(v, bool))
    shortest = base if months is None else apply_overrides(base, {"time.months": months}, source=f"{source}: parameters")
    dates = Clock.of(shortest).dates
    first, last = f"{dates.min():%Y-%m}", f"{dates.max():%Y-%m}"
    horizon = "of the base scenario" if months is None else f"of the points with time.months = {months}"
    for i, kpi in enumerate(spec.kpis):
        w = kpi.window
        if w is not None and (w.end < first or w.start > last):
            raise ScenarioError(f"{source}: kpis.{i}.window: {w.start}..{w.end} lies outside the horizon {first}..{last} "
                                f"{horizon}; their runs would report NaN (shorten the window or raise time.months' low end)")


def _check_kpi_columns(spec: SweepSpec, source: str) -> None:
    """Every KPI names a column of the simulation's timeseries (``sim.metrics`` lists them)."""
    columns = [*SERVICE_KPIS, *MARKET_KPIS]
    named = [(f"kpis.{i}.column", kpi.column) for i, kpi in enumerate(spec.kpis)]
    for where, column in [*named, *((f"keep.{i}", c) for i, c in enumerate(spec.keep))]:
        if column not in columns:
            raise ScenarioError(f"{source}: {where}: unknown timeseries column '{column}'{did_you_mean(column, columns)} "
                                f"(allowed: {', '.join(columns)})")


def _check_parameters(spec: SweepSpec, base: Scenario, source: str) -> frozenset[str]:
    """Check every swept value against the scenario schema; return the integer-valued parameter paths."""
    table = parameter_index(base)  # regional policies too, set or not
    integers = set()
    for path, param in spec.parameters.items():
        where = f"{source}: parameters.{path}"
        info = table.get(path)
        if info is None:
            hint = did_you_mean(path, list(table), cutoff=0.6)
            raise ScenarioError(f"{where}: not a scenario parameter{hint} (`freemium-sim params` lists them)")
        is_number = info.low is not None or info.high is not None
        if param.levels is None and not is_number:
            raise ScenarioError(f"{where}: is not numeric (value {info.default!r}); give `levels: [...]` instead of low/high")
        if param.levels is None:
            for end in ("low", "high"):
                v = getattr(param, end)
                if (info.low is not None and v < info.low) or (info.high is not None and v > info.high):
                    raise ScenarioError(f"{where}.{end}: {v:g} is outside the allowed range "
                                        f"[{info.low:g}, {info.high:g}] {info.unit}")
        for v in param.candidate_values():
            apply_overrides(base, {path: v}, source=f"{source}: parameters")
        if isinstance(info.default, int) and not isinstance(info.default, bool) and param.levels is None:
            integers.add(path)
    return frozenset(integers)
