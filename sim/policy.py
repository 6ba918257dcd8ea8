"""The running policy: the services' policies (and the rest of the scenario) while a run goes on.

One object holds them; the timeline and the dashboard change them through
:meth:`MarketModel.set_policy`, and the services read theirs from it
(``Service.policy``), so a policy never lives twice.

Changing a value of a service's policy (``services.focal.ad_load``,
``services.competitors.Apple Music.plans.individual.price``) validates only that
service's :class:`~sim.scenario.ServicePolicy`, not the whole scenario: a dashboard
slider moves a float without re-checking segments, regions and the timeline. Any other
path, and any value the policy refuses, goes through :func:`sim.scenario.apply_overrides`,
which validates the scenario and explains the error the usual way.

A service's price level, ad load and free tier may differ by region (``services.focal.regions.europe.free_tier``);
:class:`RegionalOffers` resolves them once per change into (service x region) arrays, so every
mechanism reads the value of a listener's region and none walks the policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import ValidationError

from sim.scenario import Scenario, ScenarioError, ServicePolicy, apply_overrides


@dataclass(frozen=True)
class RegionalOffers:
    """Every service's policy in every region, shape (S, R) each: its own values where its ``regions`` say
    nothing, the regional ones where they do (``ServicePolicy.regions``).

    Attributes
    ----------
    price_multiplier : ndarray (S, R) float64
        Local net price as a multiple of the list price: the region's price level (market data,
        ``regions[].price_multiplier``) times the service's regional multiple.
    ad_load : ndarray (S, R) float64
        Ad-min/hour of the free tier, 0 where it is not offered.
    free_tier : ndarray (S, R) bool
        The free tier is offered there.
    """

    price_multiplier: np.ndarray
    ad_load: np.ndarray
    free_tier: np.ndarray

    @classmethod
    def of(cls, scenario: Scenario) -> "RegionalOffers":
        names = [r.name for r in scenario.regions]
        level = np.array([r.price_multiplier for r in scenario.regions])
        local = [[p.regions.get(name) for name in names] for p in scenario.all_services()]
        free = np.array([[p.free_tier if r is None or r.free_tier is None else r.free_tier for r in rs]
                         for p, rs in zip(scenario.all_services(), local)], dtype=bool)
        load = np.array([[p.ad_load if r is None or r.ad_load is None else r.ad_load for r in rs]
                         for p, rs in zip(scenario.all_services(), local)])
        multiple = np.array([[1.0 if r is None else r.price_multiplier for r in rs] for rs in local])
        return cls(level[None, :] * multiple, np.where(free, load, 0.0), free)


class RunningPolicy:
    """The scenario as it stands now in a run.

    Attributes
    ----------
    scenario : Scenario
        The current scenario (the start scenario plus every change applied so far).
    regional : RegionalOffers
        Every service's price level, ad load and free tier in every region, as the scenario stands.
    """

    def __init__(self, scenario: Scenario):
        self.scenario = scenario

    @property
    def scenario(self) -> Scenario:
        return self._scenario

    @scenario.setter
    def scenario(self, scenario: Scenario) -> None:
        self._scenario = scenario
        self._services = scenario.all_services()  # read several times per service and step: listed once
        self.regional = RegionalOffers.of(scenario)  # the mechanisms read each region's values from here

    def of(self, k: int) -> ServicePolicy:
        """Policy of service ``k`` (0 is the focal service)."""
        return self._services[k]

    def set(self, changes: dict[str, Any], source: str) -> None:
        """Apply ``changes`` (key path -> value); services cannot be added, removed or renamed.

        Raises ScenarioError naming the path and what is allowed when a value is refused.
        """
        names = [p.name for p in self.scenario.services.all()]
        policies = self._policies(changes, names)
        if policies is None:
            changed = apply_overrides(self.scenario, changes, source=source, check_timeline=False)
        else:
            svc = self.scenario.services
            changed = self.scenario.model_copy(update={"services": svc.model_copy(
                update={"focal": policies[0], "competitors": policies[1:]})})
        if [p.name for p in changed.services.all()] != names:
            raise ScenarioError(f"{source}: services cannot be added, removed or renamed during a run")
        self.scenario = changed

    def _policies(self, changes: dict[str, Any], names: list[str]) -> list[ServicePolicy] | None:
        """Every service's policy after ``changes`` if they all touch existing policy values
        and each touched policy validates; None otherwise (the caller validates the scenario)."""
        data: dict[int, dict] = {}
        for path, value in changes.items():
            parts = path.split(".")
            if len(parts) < 3 or parts[0] != "services":
                return None
            if parts[1] == "focal":
                k, rest = 0, parts[2:]
            elif parts[1] == "competitors" and len(parts) >= 4:
                ref = parts[2]
                k = int(ref) + 1 if ref.isdigit() else (names.index(ref) if ref in names[1:] else 0)
                if not 0 < k < len(names):
                    return None
                rest = parts[3:]
            else:
                return None
            node = data.setdefault(k, self.of(k).model_dump(mode="python"))
            for part in rest[:-1]:
                node = node.get(part) if isinstance(node, dict) else None
                if not isinstance(node, dict):
                    return None
            if rest[-1] not in node or rest == ["name"]:
                return None
            node[rest[-1]] = value
        try:
            touched = {k: ServicePolicy.model_validate(d) for k, d in data.items()}
        except ValidationError:
            return None
        return [touched.get(k, self.of(k)) for k in range(len(names))]
