"""A file that starts from a base scenario plus overrides: sweeps, optimisations, calibrations (and the
backtests, which read a calibration).

Such a file names its ``base`` scenario (a path relative to the file) and ``overrides`` (key paths
set on it for every run), and varies some key paths of its own (a sweep's ``parameters``, an
optimisation's ``levers``, a calibration's fitted ``parameters``), which it may not also override.
:class:`BasedSpec` is the pydantic base of the three file schemas, :func:`load_based` their one
loader, and :class:`BasedOn` what it returns, which each kind extends with what it checks itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sim.scenario.errors import explain_validation_error
from sim.scenario.extends import load_scenario
from sim.scenario.paths import apply_overrides
from sim.scenario.schema import Scenario
from sim.yamlio import ScenarioError, file_exists, read_yaml


class BasedSpec(BaseModel):
    """The keys every base-plus-overrides file has; ``VARIED`` names the field of the key paths it varies
    (a mapping keyed by key path) and ``WHAT`` what the file is, for messages."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    VARIED: ClassVar[str] = "parameters"
    WHAT: ClassVar[str] = "file"

    base: str = Field(description="Base scenario file, relative to this file")
    overrides: dict[str, Any] = Field(default_factory=dict, description="Key paths set on the base scenario for every run")

    @model_validator(mode="after")
    def _varied_not_overridden(self) -> "BasedSpec":
        both = sorted(set(getattr(self, self.VARIED)) & set(self.overrides))
        if both:
            raise ValueError(f"{', '.join(both)} is both in `{self.VARIED}` and overridden; keep it in `{self.VARIED}` only")
        return self


S = TypeVar("S", bound=BasedSpec)


@dataclass(frozen=True)
class BasedOn(Generic[S]):
    """A validated base-plus-overrides file.

    ``spec`` the file's keys, ``source`` its path as given, ``base_path`` the base scenario's file,
    ``scenario`` the base scenario as written, ``base`` with the overrides applied (what every run starts from).
    """

    spec: S
    source: str
    base_path: Path
    scenario: Scenario
    base: Scenario


def load_based(path: str | Path, model: type[S], changes: dict[str, Any] | None = None) -> BasedOn[S]:
    """Read and validate a ``model`` file (``name`` defaults to the file's stem) and its base scenario.

    ``changes`` replaces top-level keys before validation (a command's --trials etc.); its ``set``
    entry, {key path: value}, joins the file's ``overrides`` (--set). Every user error raises
    ScenarioError naming the file and the key path.
    """
    source, what = str(path), model.WHAT
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: (top level): expected a mapping of {what} keys, got {type(data).__name__}")
    changes = dict(changes or {})
    sets = changes.pop("set", None)
    data = {"name": Path(path).stem, **data, **changes}
    if sets:
        data["overrides"] = {**(data.get("overrides") or {}), **sets}
    try:
        spec = model.model_validate(data)
    except ValidationError as err:
        raise explain_validation_error(err, source, model) from None
    base_path = Path(path).parent / spec.base
    if not file_exists(base_path):
        raise ScenarioError(f"{source}: base: scenario file {base_path} not found (the path is relative to the {what} file)")
    scenario = load_scenario(base_path)
    return BasedOn(spec, source, base_path, scenario, apply_overrides(scenario, spec.overrides, source=f"{source}: overrides"))
