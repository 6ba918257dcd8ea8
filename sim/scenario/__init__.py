"""The scenario: every parameter of the market, validated, with its unit and default.

A scenario is a YAML file read with ``yaml.safe_load`` only and validated into a
frozen pydantic model (``extra="forbid"``). The package is split by meaning:

- ``fields``: building blocks (a field with its unit, distributions, calendar months);
- ``schema`` and ``mechanisms``: the sections of a scenario, the single source of truth
  for parameter names, defaults, units, ranges and descriptions;
- ``errors``: one message naming the file, key path, problem and what is allowed;
- ``paths``: ``--set`` and timeline overrides at dotted key paths;
- ``extends``: reading a file that starts from another, and merging;
- ``introspect``: the parameter table and differences between scenarios.

``from sim.scenario import X`` works for every public name.
"""

from __future__ import annotations

from sim.scenario.based import BasedOn, BasedSpec, load_based
from sim.scenario.errors import cut, did_you_mean, explain_validation_error, validate_scenario_data
from sim.scenario.extends import load_scenario, merge_scenarios
from sim.scenario.fields import (DISTRIBUTIONS, SAFE_NAME, YEAR_MONTH, Constant, Distribution, Lognormal, Normal, P, Strict,
                                 Uniform, YearMonth)
from sim.scenario.introspect import (ParamInfo, differences_from_defaults, parameter_differences, parameter_index, parameter_table,
                                     scenario_to_yaml)
from sim.scenario.mechanisms import (AdsConfig, CampaignsConfig, CompetitionConfig, ListeningConfig, LoyaltyConfig,
                                     Mechanisms, PersonalizationConfig, ServiceQualityConfig, WrappedConfig)
from sim.scenario.paths import apply_overrides, parse_set_options, validate_scenario
from sim.scenario.schema import (DEFAULT_HASSLE, DEFAULT_SEATS, DEFAULT_USERS_PER_ACCOUNT, ChoiceConfig,
                                 DiffusionConfig, InitialState, MarketConfig, NetworkConfig, Outage, Plan, PlanName,
                                 Region, Scenario, Segment, ServicePolicy, Services, SwitchingCost, TimeConfig,
                                 TimelineEvent)
from sim.yamlio import ScenarioError, read_yaml

__all__ = [
    "Scenario",
    "ScenarioError",
    "ParamInfo",
    "load_scenario",
    "apply_overrides",
    "parse_set_options",
    "parameter_index", "parameter_table",
    "differences_from_defaults",
    "explain_validation_error",
    "parameter_differences",
    "read_yaml",
    "scenario_to_yaml",
    "validate_scenario",
    "validate_scenario_data",
    "merge_scenarios",
    "BasedOn", "BasedSpec", "load_based",
    "did_you_mean",
    "cut",
    "DISTRIBUTIONS", "SAFE_NAME", "Constant", "Distribution", "Lognormal", "Normal", "P", "Strict", "Uniform",
    "YEAR_MONTH",
    "YearMonth",
    "AdsConfig", "CampaignsConfig", "CompetitionConfig", "LoyaltyConfig", "Mechanisms", "PersonalizationConfig",
    "ServiceQualityConfig", "WrappedConfig",
    "DEFAULT_HASSLE", "DEFAULT_SEATS", "DEFAULT_USERS_PER_ACCOUNT", "ChoiceConfig", "DiffusionConfig", "InitialState",
    "ListeningConfig", "MarketConfig", "NetworkConfig", "Outage", "Plan", "PlanName", "Region", "Segment",
    "ServicePolicy", "Services", "SwitchingCost", "TimeConfig", "TimelineEvent",
]
