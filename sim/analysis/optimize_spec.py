"""An optimisation file: which levers to search, what to maximise or minimise, under which limits.

It reads like a sweep file (``name, base, seed, replicates, overrides``) with
``trials`` instead of a design, ``levers`` instead of parameters (each a scenario key
path with a ``low``/``high`` range, optionally ``from: YYYY-MM`` to act from that
month on as a timeline event), ``objectives`` (sweep KPIs with a ``direction``) and
``constraints`` (sweep KPIs with a ``min`` and/or ``max``). It is validated like every
user file: each mistake raises ScenarioError naming the file and the key path, with a
did-you-mean hint where one helps.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import ConfigDict, Field, model_validator

from sim.analysis.whatif import overwrite_warnings
from sim.metrics import MARKET_KPIS, SERVICE_KPIS
from sim.scenario import BasedOn, BasedSpec, Scenario, ScenarioError, YearMonth, did_you_mean, load_based, parameter_index
from sim.sweep.spec import KpiSpec, _Strict


class Lever(_Strict):
    """One scenario value the search may set: a range, and optionally the month it starts."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    low: float = Field(description="Lowest value tried, in the parameter's unit")
    high: float = Field(description="Highest value tried, in the parameter's unit")
    start: YearMonth | None = Field(None, alias="from",
                                    description="From this month on (a timeline event); default: from the start")

    @model_validator(mode="after")
    def _ordered(self) -> "Lever":
        if not self.low < self.high:
            raise ValueError(f"low ({self.low:g}) must be below high ({self.high:g})")
        return self


class Objective(KpiSpec):
    """A KPI to maximise or minimise (its mean over the replicates)."""

    direction: Literal["maximize", "minimize"] = Field(description="maximize or minimize the mean over replicates")


class Constraint(KpiSpec):
    """A KPI whose mean over the replicates must stay within ``min`` and/or ``max``."""

    min: float | None = Field(None, description="Lowest allowed mean, in the KPI's unit")
    max: float | None = Field(None, description="Highest allowed mean, in the KPI's unit")

    @model_validator(mode="after")
    def _a_bound(self) -> "Constraint":
        if self.min is None and self.max is None:
            raise ValueError("a constraint needs `min` or `max`")
        if self.min is not None and self.max is not None and not self.min < self.max:
            raise ValueError(f"min ({self.min:g}) must be below max ({self.max:g})")
        return self

    def violation(self, value: float) -> float:
        """How far ``value`` lies outside the bounds (> 0 violated, <= 0 satisfied: optuna's convention)."""
        low = -float("inf") if self.min is None else self.min - value
        high = -float("inf") if self.max is None else value - self.max
        return max(low, high)


class OptimizeSpec(BasedSpec):
    """A whole optimisation file (a base scenario plus overrides, ``sim.scenario.based``). Its ``seed`` and
    ``replicates`` replace the base scenario's own."""

    VARIED: ClassVar[str] = "levers"
    WHAT: ClassVar[str] = "optimisation"

    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$", description="Names the output folder results/optimize-<name>/ (default: file name)")
    description: str = Field("", description="What the search asks")
    seed: int = Field(ge=0, description="Root seed of the sampler and of every run")
    replicates: int = Field(2, ge=1, le=1000, description="Runs per policy; every policy uses the same replicate seeds")
    trials: int = Field(ge=1, le=100000, description="Policies to evaluate")
    levers: dict[str, Lever] = Field(min_length=1, description="Searched parameters by scenario key path")
    objectives: list[Objective] = Field(min_length=1, description="KPIs to maximise or minimise")
    constraints: list[Constraint] = Field(default_factory=list, description="KPIs that must stay within bounds")

    @model_validator(mode="after")
    def _consistent(self) -> "OptimizeSpec":
        keys = [k.key for k in self.objectives]
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        if repeated:
            raise ValueError(f"objectives: repeated KPI {', '.join(repeated)}; give one of them a `name`")
        return self


@dataclass(frozen=True)
class Optimization(BasedOn[OptimizeSpec]):
    """A validated optimisation with its resolved base scenario (overrides applied), its integer levers and warnings."""

    integer_levers: frozenset[str]
    warnings: tuple[str, ...]

    def resolved(self) -> dict[str, Any]:
        """Everything that determines the trials, as JSON-ready data: resuming requires it unchanged."""
        return {"optimize": self.spec.model_dump(mode="json", exclude_unset=True, by_alias=True),
                "base_scenario": self.base.model_dump(mode="json")}


def load_optimization(path: str | Path) -> Optimization:
    """Read and validate an optimisation file and its base scenario; every user error raises ScenarioError."""
    based = load_based(path, OptimizeSpec)
    spec, source = based.spec, based.source
    columns = [*SERVICE_KPIS, *MARKET_KPIS]
    for section, items in (("objectives", spec.objectives), ("constraints", spec.constraints)):
        for i, kpi in enumerate(items):
            if kpi.column not in columns:
                hint = did_you_mean(kpi.column, columns, 0.5)
                raise ScenarioError(f"{source}: {section}.{i}.column: unknown timeseries column '{kpi.column}'{hint}")
    integers, warnings = _check_levers(spec, based.base, source)
    return Optimization(**vars(based), integer_levers=integers, warnings=tuple(warnings))


def _check_levers(spec: OptimizeSpec, base: Scenario, source: str) -> tuple[frozenset[str], list[str]]:
    """Check every lever against the scenario schema; return the integer levers and timeline warnings."""
    from sim.analysis.whatif import check_month

    table = parameter_index(base)  # regional policies too, set or not
    integers, warnings = set(), []
    for path, lever in spec.levers.items():
        where = f"{source}: levers.{path}"
        info = table.get(path)
        if info is None:
            hint = did_you_mean(path, list(table), 0.6)
            raise ScenarioError(f"{where}: not a scenario parameter{hint} (`freemium-sim params` lists them)")
        if isinstance(info.default, (bool, str)) or (info.low is None and info.high is None):
            raise ScenarioError(f"{where}: is not a numeric parameter (value {info.default!r}); a lever needs a range")
        for end in ("low", "high"):
            v = getattr(lever, end)
            if (info.low is not None and v < info.low) or (info.high is not None and v > info.high):
                raise ScenarioError(f"{where}.{end}: {v:g} is outside the allowed range "
                                    f"[{info.low if info.low is not None else '-inf'}, "
                                    f"{info.high if info.high is not None else 'inf'}] {info.unit}")
        if lever.start is not None:
            try:
                check_month(lever.start, "from", base)
            except ScenarioError as exc:
                raise ScenarioError(f"{where}.{exc}") from None
        elif through_list(path):
            raise ScenarioError(f"{where}: a lever inside a list (competitors, segments, regions) needs "
                                "`from: YYYY-MM` (it becomes a timeline event of the policy files)")
        warnings += overwrite_warnings(base, {path: f"<{lever.low:g}..{lever.high:g}>"}, lever.start, "lever")
        if isinstance(info.default, int):
            integers.add(path)
    return frozenset(integers), warnings


def through_list(path: str) -> bool:
    """Whether a key path passes through a list of the scenario (named or numbered items)."""
    return path.split(".")[0] in ("segments", "regions", "timeline") or path.startswith("services.competitors.")
