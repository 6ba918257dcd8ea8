"""The scenario: every parameter of the market, validated, with its unit and default.

A scenario is a YAML file read with ``yaml.safe_load`` only and validated into a
frozen pydantic model (``extra="forbid"``). This module is the single source of
truth for parameter names, defaults, units, ranges and descriptions: ``params``,
the docs, sweeps, calibration and the dashboard all read them from here.

Rates are per month; money is EUR (per month where it is a flow); time is
calendar months ``YYYY-MM``.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from sim.yamlio import ScenarioError, read_yaml

__all__ = [
    "Scenario",
    "ScenarioError",
    "ParamInfo",
    "load_scenario",
    "apply_overrides",
    "parse_set_options",
    "parameter_table",
    "differences_from_defaults",
    "explain_validation_error",
    "parameter_differences",
    "read_yaml",
    "scenario_to_yaml",
]


def P(default: Any, unit: str, description: str, **bounds: Any) -> Any:
    """A schema field with its unit and one-line description (and optional ge/le bounds)."""
    return Field(default, description=description, json_schema_extra={"unit": unit}, **bounds)


class Strict(BaseModel):
    """Base of every scenario section: immutable, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


# ---------------------------------------------------------------- distributions


class Constant(Strict):
    dist: Literal["constant"] = "constant"
    value: float


class Lognormal(Strict):
    dist: Literal["lognormal"]
    median: float = Field(gt=0)
    sigma: float = Field(ge=0, le=5)


class Normal(Strict):
    dist: Literal["normal"]
    mean: float
    sd: float = Field(ge=0)
    low: float | None = None
    high: float | None = None


class Uniform(Strict):
    dist: Literal["uniform"]
    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> "Uniform":
        if self.high < self.low:
            raise ValueError(f"high ({self.high}) must be >= low ({self.low})")
        return self


def _scalar_is_constant(v: Any) -> Any:
    # `wtp: 3.0` is shorthand for a constant distribution
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return {"dist": "constant", "value": float(v)}
    return v


DISTRIBUTIONS = {"constant": Constant, "lognormal": Lognormal, "normal": Normal, "uniform": Uniform}
Distribution = Annotated[
    Union[Constant, Lognormal, Normal, Uniform],
    Field(discriminator="dist"),
    BeforeValidator(_scalar_is_constant),
]


# ---------------------------------------------------------------- sections

YEAR_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def _year_month(v: Any) -> str:
    if isinstance(v, str) and YEAR_MONTH.match(v):
        return v
    # yaml reads 2015-01 as a string but 2015-01-01 as a date
    if hasattr(v, "year") and hasattr(v, "month"):
        return f"{v.year:04d}-{v.month:02d}"
    raise ValueError(f"expected a calendar month YYYY-MM, got {v!r}")


YearMonth = Annotated[str, BeforeValidator(_year_month)]


class TimeConfig(Strict):
    start: YearMonth = P("2015-01", "YYYY-MM", "Calendar month of the first step")
    months: int = P(120, "months", "Horizon of the simulation", ge=1, le=600)
    step: Literal["month", "week"] = P("month", "-", "Length of one step; rates are converted exactly")


class MarketConfig(Strict):
    population: float = P(2.0e9, "people", "Real people in the market's reach", ge=1e3, le=1e10)
    agents: int = P(200_000, "listeners", "Simulated listeners; each stands for population/agents people", ge=100, le=5_000_000)


class Segment(Strict):
    name: str = Field(description="Segment name")
    share: float = P(..., "fraction", "Share of the population in this segment", ge=0, le=1)
    age_band: str = P("25-34", "-", "Age band label, for reporting")
    student: bool = P(False, "-", "Eligible for student plans")
    household_share: float = P(0.5, "fraction", "Share living with others who could share a duo/family plan", ge=0, le=1)
    wtp: Distribution = P({"dist": "lognormal", "median": 3.0, "sigma": 0.8}, "EUR/month", "Value of premium over free")
    ad_sensitivity: Distribution = P({"dist": "lognormal", "median": 0.05, "sigma": 0.6}, "EUR/ad-minute", "Disutility of one minute of ads")
    outside_value: Distribution = P({"dist": "lognormal", "median": 6.0, "sigma": 0.6}, "EUR/month", "Value of the best non-streaming option")
    base_hours: Distribution = P({"dist": "lognormal", "median": 11.0, "sigma": 0.6}, "hours/month", "Listening at neutral engagement")
    privacy_sensitive: float = P(0.3, "fraction", "Share unwilling to share listening data", ge=0, le=1)
    taste_concentration: float = P(0.5, "-", "Dirichlet concentration of taste over genres (small = narrow taste)", gt=0, le=100)


def _default_segments() -> list[dict[str, Any]]:
    # About 43% of users are under 24 (case material); students are their own segment.
    return [
        {"name": "teens", "share": 0.14, "age_band": "<18", "household_share": 0.9,
         "wtp": {"dist": "lognormal", "median": 2.0, "sigma": 0.8}, "base_hours": {"dist": "lognormal", "median": 14.0, "sigma": 0.6},
         "outside_value": {"dist": "lognormal", "median": 4.0, "sigma": 0.6}, "privacy_sensitive": 0.2},
        {"name": "students", "share": 0.16, "age_band": "18-24", "student": True, "household_share": 0.3,
         "wtp": {"dist": "lognormal", "median": 2.5, "sigma": 0.8}, "base_hours": {"dist": "lognormal", "median": 15.0, "sigma": 0.6},
         "outside_value": {"dist": "lognormal", "median": 4.5, "sigma": 0.6}, "privacy_sensitive": 0.25},
        {"name": "young_adults", "share": 0.13, "age_band": "18-24", "household_share": 0.4,
         "wtp": {"dist": "lognormal", "median": 3.0, "sigma": 0.8}, "base_hours": {"dist": "lognormal", "median": 13.0, "sigma": 0.6},
         "outside_value": {"dist": "lognormal", "median": 5.0, "sigma": 0.6}, "privacy_sensitive": 0.25},
        {"name": "adults", "share": 0.22, "age_band": "25-34", "household_share": 0.6,
         "wtp": {"dist": "lognormal", "median": 3.5, "sigma": 0.8}, "base_hours": {"dist": "lognormal", "median": 11.0, "sigma": 0.6},
         "outside_value": {"dist": "lognormal", "median": 6.0, "sigma": 0.6}, "privacy_sensitive": 0.3},
        {"name": "mid_life", "share": 0.22, "age_band": "35-54", "household_share": 0.75,
         "wtp": {"dist": "lognormal", "median": 3.5, "sigma": 0.8}, "base_hours": {"dist": "lognormal", "median": 8.0, "sigma": 0.6},
         "outside_value": {"dist": "lognormal", "median": 7.0, "sigma": 0.6}, "privacy_sensitive": 0.35},
        {"name": "seniors", "share": 0.13, "age_band": "55+", "household_share": 0.6,
         "wtp": {"dist": "lognormal", "median": 3.0, "sigma": 0.8}, "base_hours": {"dist": "lognormal", "median": 6.0, "sigma": 0.6},
         "outside_value": {"dist": "lognormal", "median": 8.0, "sigma": 0.6}, "privacy_sensitive": 0.4},
    ]


class Region(Strict):
    name: str = Field(description="Region name")
    share: float = P(..., "fraction", "Share of the population in this region", ge=0, le=1)
    price_multiplier: float = P(1.0, "-", "Local net price as a multiple of the list price", gt=0, le=5)
    value_multiplier: float = P(1.0, "-", "Scales wtp, outside value and ad sensitivity (local purchasing power)", gt=0, le=5)


class NetworkConfig(Strict):
    kind: Literal["small_world", "fully_mixed"] = P("small_world", "-", "Social network; fully_mixed = word of mouth from the population share")
    mean_degree: int = P(12, "friends", "Mean number of friends", ge=0, le=200)
    rewire: float = P(0.1, "probability", "Watts-Strogatz rewiring probability of a lattice tie", ge=0, le=1)
    homophily: float = P(0.6, "probability", "Probability that a rewired tie stays within the segment", ge=0, le=1)


class DiffusionConfig(Strict):
    enabled: bool = P(True, "-", "Unaware people become aware (Bass)")
    p: float = P(0.002, "1/month", "Bass innovation hazard (external influence)", ge=0, le=1)
    q: float = P(0.25, "1/month", "Bass imitation hazard at full friend adoption", ge=0, le=5)
    advocate_weight: float = P(2.0, "-", "Word-of-mouth weight of an advocate relative to a plain user", ge=0, le=20)


class SwitchingCost(Strict):
    base: float = P(0.5, "EUR/month", "Cost of leaving the current option", ge=0, le=100)
    per_tenure_month: float = P(0.05, "EUR/month per month", "Growth of the switching cost with tenure", ge=0, le=10)
    max_tenure_months: int = P(24, "months", "Tenure beyond which the switching cost stops growing", ge=0, le=600)
    data_depth: float = P(1.5, "EUR/month", "Extra switching cost at full personalisation data depth", ge=0, le=100)


class ChoiceConfig(Strict):
    noise_scale: float = P(1.5, "EUR/month", "Logit scale of unobserved utility", gt=0, le=100)
    review_rate: float = P(0.08, "1/month", "Free and trial users and aware non-users reconsidering their option", ge=0, le=1)
    premium_review_rate: float = P(0.12, "1/month", "Paying subscribers reconsidering (each bill is a decision)", ge=0, le=1)
    lapsed_review_rate: float = P(0.03, "1/month", "Lapsed listeners reconsidering", ge=0, le=1)
    price_change_review: float = P(0.25, "probability", "Subscribers whose plan's price rose who reconsider that step", ge=0, le=1)
    trial_salience: float = P(0.15, "fraction", "Share of the price a trial-eligible listener discounts when a trial is offered", ge=0, le=1)
    involuntary_churn: float = P(0.005, "1/month", "Premium payments that fail (the subscriber lapses)", ge=0, le=1)
    switching_cost: SwitchingCost = SwitchingCost()


class ListeningConfig(Strict):
    match_elasticity: float = P(1.0, "-", "Elasticity of hours to recommendation match", ge=0, le=5)
    premium_multiplier: float = P(1.6, "-", "Hours multiplier of premium (offline, no skip limits)", ge=0.1, le=10)
    ad_elasticity: float = P(0.08, "1/(ad-min/hour)", "Hours fall as exp(-ad_elasticity x ad_load) on the free tier", ge=0, le=2)
    satisfaction_elasticity: float = P(0.3, "-", "Hours rise with satisfaction around 0.5", ge=0, le=5)


PlanName = Literal["individual", "student", "duo", "family"]
DEFAULT_HASSLE = {"individual": 0.0, "student": 0.5, "duo": 1.0, "family": 2.5}
DEFAULT_SEATS = {"individual": 1, "student": 1, "duo": 2, "family": 6}
DEFAULT_USERS_PER_ACCOUNT = {"individual": 1.0, "student": 1.0, "duo": 2.0, "family": 3.2}


class Plan(Strict):
    price: float = P(9.99, "EUR/month", "List price of the plan per account", ge=0, le=200)
    seats: int = P(1, "people", "Maximum people on one account (default: duo 2, family 6, else 1)", ge=1, le=12)
    users_per_account: float | None = P(None, "people", "Mean people on one account (default: 1, duo 2, family 3.2)", ge=1, le=12)
    hassle: float | None = P(None, "EUR/month", "Effort of using the plan: student verification, organising a shared account "
                             "(default: student 0.5, duo 1.0, family 2.5, else 0)", ge=0, le=100)


class ServicePolicy(Strict):
    name: str = Field(description="Service name")
    free_tier: bool = P(True, "-", "Offers an ad-supported free tier")
    ad_load: float = P(2.5, "ad-min/hour", "Ad minutes per listening hour on the free tier", ge=0, le=30)
    restriction_gap: float = P(2.0, "EUR/month", "Value of premium features missing on free (skips, on-demand)", ge=0, le=50)
    personalization: float = P(0.6, "0..1", "Investment in recommendations", ge=0, le=1)
    data_policy: Literal["opt_out", "opt_in"] = P("opt_out", "-", "Listening data collected unless refused (opt_out) or only if agreed (opt_in)")
    content_value: float = P(9.0, "EUR/month", "Catalogue breadth and quality at neutral match", ge=0, le=200)
    plans: dict[PlanName, Plan] = P({"individual": {"price": 9.99}}, "-", "Premium plans offered")
    trial_months: int = P(1, "months", "Free premium months for a first-time subscriber", ge=0, le=12)
    marketing_budget: float = P(0.0, "EUR/month", "Marketing spend", ge=0, le=1e10)
    support_staff: int = P(200, "agents", "Customer-support advisors", ge=0, le=1_000_000)
    rak_rate: float = P(0.05, "fraction", "Share of resolved tickets that get a small personalised delight (RAK)", ge=0, le=1)
    wrapped: bool = P(False, "-", "Runs a December Wrapped-style sharing campaign")
    royalty_share: float = P(0.70, "fraction", "Share of revenue paid to rights holders", ge=0, le=1)
    strategy: Literal["static", "match_price", "defend_share"] = P("static", "-", "Pricing rule (competitors)")
    reaction_lag: int = P(3, "months", "Months before a competitor reacts", ge=0, le=60)

    @model_validator(mode="before")
    @classmethod
    def _default_seats(cls, data: Any) -> Any:
        # a duo or family plan without `seats` gets the plan's usual size
        if isinstance(data, dict) and isinstance(data.get("plans"), dict):
            plans = {}
            for name, plan in data["plans"].items():
                if isinstance(plan, dict) and plan.get("seats") is None and name in DEFAULT_SEATS:
                    plan = {**plan, "seats": DEFAULT_SEATS[name]}
                plans[name] = plan
            data = {**data, "plans": plans}
        return data

    @model_validator(mode="after")
    def _plans(self) -> "ServicePolicy":
        if not self.plans:
            raise ValueError("a service needs at least one premium plan")
        for name, plan in self.plans.items():
            upa = plan.users_per_account or min(DEFAULT_USERS_PER_ACCOUNT[name], plan.seats)
            if upa > plan.seats:
                raise ValueError(f"plans.{name}: users_per_account ({upa}) exceeds seats ({plan.seats})")
        return self

    def hassle(self, plan: str) -> float:
        """Non-price cost of a plan per user, EUR/month."""
        h = self.plans[plan].hassle
        return DEFAULT_HASSLE[plan] if h is None else h

    def users_per_account(self, plan: str) -> float:
        p = self.plans[plan]
        return p.users_per_account or min(DEFAULT_USERS_PER_ACCOUNT[plan], float(p.seats))


def _default_focal() -> dict[str, Any]:
    return {"name": "Spotify", "free_tier": True, "ad_load": 2.5, "personalization": 0.6, "content_value": 9.0,
            "plans": {"individual": {"price": 9.99}, "student": {"price": 4.99}, "family": {"price": 14.99, "seats": 6}},
            "wrapped": True, "marketing_budget": 18e6, "support_staff": 300}


class Services(Strict):
    focal: ServicePolicy = Field(default_factory=lambda: ServicePolicy(**_default_focal()))
    competitors: list[ServicePolicy] = Field(default_factory=list, description="Other services", max_length=8)

    @model_validator(mode="after")
    def _names(self) -> "Services":
        names = [self.focal.name] + [c.name for c in self.competitors]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"service names must be unique, repeated: {sorted(dup)}")
        return self

    def all(self) -> list[ServicePolicy]:
        """The focal service first, then the competitors in file order."""
        return [self.focal, *self.competitors]


class InitialState(Strict):
    aware: float = P(0.30, "fraction", "Share of the population aware of streaming at the start (users included)", ge=0, le=1)
    focal_free: float = P(0.027, "fraction", "Share of the population on the focal free tier", ge=0, le=1)
    focal_premium: float = P(0.0075, "fraction", "Share of the population on focal premium", ge=0, le=1)
    competitor: float = P(0.0, "fraction", "Share of the population with a competitor (split evenly)", ge=0, le=1)
    tenure_months: int = P(24, "months", "Initial users' tenure is uniform on 0..this", ge=0, le=240)

    @model_validator(mode="after")
    def _nested(self) -> "InitialState":
        users = self.focal_free + self.focal_premium + self.competitor
        if users > self.aware + 1e-12:
            raise ValueError(f"focal_free + focal_premium + competitor ({users:g}) must not exceed aware ({self.aware:g})")
        return self


# ---------------------------------------------------------------- mechanisms (issue 4)


class AdsConfig(Strict):
    enabled: bool = P(True, "-", "Advertisers buy the free tier's impressions")
    advertisers: int = P(20, "advertisers", "Number of advertiser agents", ge=1, le=1000)
    total_budget: float = P(120e6, "EUR/month", "Audio advertising budgets of all advertisers together", ge=0, le=1e11)
    budget_growth: float = P(0.08, "1/year", "Yearly growth of advertiser budgets", ge=-0.5, le=2)
    q4_boost: float = P(0.35, "fraction", "Extra budget in October-December (holiday season)", ge=0, le=3)
    initial_streaming_share: float = P(0.15, "fraction", "Share of budgets spent on streaming at the start", ge=0, le=1)
    value_cpm: float = P(14.0, "EUR/1000 impressions", "Advertiser value of an untargeted impression", ge=0, le=500)
    targeting_lift: float = P(1.0, "-", "Value rises by this factor at full targeting quality", ge=0, le=10)
    outside_cpm_value: float = P(1.2, "EUR/EUR", "Return per EUR of the outside medium (radio, social)", gt=0, le=10)
    reserve_cpm: float = P(4.0, "EUR/1000 impressions", "Floor price of the services' inventory", ge=0, le=500)
    inertia: float = P(0.8, "fraction", "Share of last month's allocation advertisers keep", ge=0, le=1)
    responsiveness: float = P(3.0, "-", "Sharpness of budget shifts toward the better return", ge=0, le=50)
    impressions_per_ad_minute: float = P(2.0, "impressions", "Ads per ad-minute (30-second spots)", gt=0, le=20)


class PersonalizationConfig(Strict):
    enabled: bool = P(True, "-", "Data depth and recommendation match (the flywheel)")
    lift: float = P(0.5, "-", "Match at full data depth and full personalisation is 1 + lift", ge=0, le=5)
    tau_hours: float = P(150.0, "hours", "Listening hours of data that give 63% of the full match", gt=0, le=1e5)
    privacy_cost: float = P(5.0, "EUR/month", "Disutility of a privacy-sensitive sharer at full personalisation", ge=0, le=100)
    opt_out_share: float = P(0.3, "fraction", "Privacy-sensitive listeners who actively opt out under opt_out", ge=0, le=1)
    opt_in_share: float = P(0.6, "fraction", "Other listeners who actively agree to share data under opt_in", ge=0, le=1)
    genres: int = P(8, "genres", "Number of genres in tastes and advertiser targets", ge=1, le=64)
    cost_per_user: float = P(0.05, "EUR/user/month", "Recommendation cost per monthly user at full personalisation", ge=0, le=10)


class ServiceQualityConfig(Strict):
    enabled: bool = P(True, "-", "Incidents, support queue, response times, RAK")
    ticket_rate: float = P(0.003, "1/month", "Support tickets per user per month", ge=0, le=1)
    tickets_per_staff: float = P(1500.0, "tickets/month", "Tickets one advisor resolves in a month", gt=0, le=1e6)
    base_response_hours: float = P(1.5, "hours", "Response time of an idle support team", gt=0, le=1000)
    wait_threshold_hours: float = P(24.0, "hours", "Waits above this hurt satisfaction", gt=0, le=10000)
    wait_penalty: float = P(3.0, "EUR/month", "Goodwill lost by a listener who waited too long", ge=0, le=100)
    wait_review: float = P(0.5, "probability", "A listener who waited too long reconsiders their option", ge=0, le=1)
    rak_lift: float = P(2.0, "EUR/month", "Goodwill from a random act of kindness", ge=0, le=100)
    goodwill_decay: float = P(0.3, "1/month", "Share of goodwill (positive or negative) that fades each month", ge=0, le=1)
    staff_cost: float = P(3000.0, "EUR/month", "Cost of one support advisor", ge=0, le=1e6)
    outage_tickets: float = P(0.02, "tickets/user", "Extra tickets per user for a full-day, full-severity outage", ge=0, le=10)
    abandonment: float = P(0.5, "1/month", "Share of the waiting backlog that gives up each month", ge=0, le=1)
    outage_penalty: float = P(4.0, "EUR/month", "Goodwill lost per full-day, full-severity outage", ge=0, le=100)
    outage_review: float = P(0.3, "probability", "Users reconsidering after a full-day, full-severity outage", ge=0, le=1)


class WrappedConfig(Strict):
    share_rate: float = P(0.3, "fraction", "Users of a Wrapped service who share their Wrapped in December", ge=0, le=1)
    wom_boost: float = P(1.0, "-", "Word of mouth of a sharing friend counts 1 + this", ge=0, le=20)
    goodwill: float = P(1.0, "EUR/month", "Goodwill of users who see their Wrapped", ge=0, le=100)


class CampaignsConfig(Strict):
    enabled: bool = P(True, "-", "Wrapped, marketing and trials")
    wrapped: WrappedConfig = WrappedConfig()
    marketing_lift: float = P(1.5, "-", "Bass p is multiplied by 1 + lift x log(1 + spend/reference)", ge=0, le=50)
    marketing_reference: float = P(0.005, "EUR/person/month", "Marketing spend per person in reach with half-log effect", gt=0, le=100)
    marketing_acquisition: float = P(0.5, "EUR/month", "Utility boost of a service to a newly aware listener at reference spend", ge=0, le=100)
    trial_cost: float = P(2.5, "EUR/user/month", "Royalties and delivery cost of a trial user", ge=0, le=100)


class CompetitionConfig(Strict):
    enabled: bool = P(True, "-", "Competitors apply their pricing strategy")
    defend_threshold: float = P(0.02, "share points", "Loss of market share that triggers a defend_share price cut", ge=0, le=1)
    defend_step: float = P(0.1, "fraction", "Price cut of one defend_share reaction", ge=0, le=1)
    price_floor: float = P(0.6, "fraction", "Lowest price a competitor accepts, as a share of its list price", ge=0, le=1)


class LoyaltyConfig(Strict):
    customer_months: int = P(3, "months", "Tenure below which a user is a customer (first purchase)", ge=0, le=120)
    supporter_satisfaction: float = P(0.6, "0..1", "Satisfaction from which a client is a supporter", ge=0, le=1)
    advocate_satisfaction: float = P(0.8, "0..1", "Satisfaction from which a sharing supporter is an advocate", ge=0, le=1)
    satisfaction_smoothing: float = P(0.3, "1/month", "Weight of this month's experience in satisfaction", gt=0, le=1)


class Mechanisms(Strict):
    ads: AdsConfig = AdsConfig()
    personalization: PersonalizationConfig = PersonalizationConfig()
    service_quality: ServiceQualityConfig = ServiceQualityConfig()
    campaigns: CampaignsConfig = CampaignsConfig()
    competition: CompetitionConfig = CompetitionConfig()
    listening: ListeningConfig = ListeningConfig()
    loyalty: LoyaltyConfig = LoyaltyConfig()


# ---------------------------------------------------------------- timeline


class Outage(Strict):
    service: str = Field("focal", description="Service name, or 'focal'")
    days: float = P(1.0, "days", "Duration of the outage", gt=0, le=31)
    severity: float = P(0.3, "0..1", "Share of functionality lost", ge=0, le=1)


class TimelineEvent(Strict):
    at: YearMonth = Field(description="Calendar month YYYY-MM the event applies")
    set: dict[str, Any] | None = Field(None, description="Key paths and their new values")
    outage: Outage | None = None
    note: str | None = Field(None, description="Free text, for reports")

    @model_validator(mode="after")
    def _something(self) -> "TimelineEvent":
        if self.set is None and self.outage is None:
            raise ValueError("an event needs `set` or `outage`")
        return self


# ---------------------------------------------------------------- scenario


class Scenario(Strict):
    name: str = Field("baseline", description="Scenario name (names the output folder)", pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str = Field("", description="What the scenario is for")
    seed: int = P(42, "-", "Root seed; replicate r uses SeedSequence(seed).spawn(R)[r]", ge=0)
    replicates: int = P(8, "runs", "Independent replicates", ge=1, le=1000)
    time: TimeConfig = TimeConfig()
    market: MarketConfig = MarketConfig()
    segments: list[Segment] = Field(default_factory=lambda: [Segment(**s) for s in _default_segments()], min_length=1)
    regions: list[Region] = Field(default_factory=lambda: [Region(name="world", share=1.0)], min_length=1)
    network: NetworkConfig = NetworkConfig()
    diffusion: DiffusionConfig = DiffusionConfig()
    choice: ChoiceConfig = ChoiceConfig()
    services: Services = Services()
    initial: InitialState = InitialState()
    mechanisms: Mechanisms = Mechanisms()
    timeline: list[TimelineEvent] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> "Scenario":
        for field, items in (("segments", self.segments), ("regions", self.regions)):
            total = sum(s.share for s in items)
            if abs(total - 1.0) > 1e-6:
                raise ValueError(f"{field}: shares sum to {total:.6g}; they must sum to 1")
            names = [s.name for s in items]
            if len(set(names)) != len(names):
                raise ValueError(f"{field}: names must be unique")
        if self.initial.competitor > 0 and not self.services.competitors:
            raise ValueError("initial.competitor > 0 but services.competitors is empty")
        start = _month_index(self.time.start)
        for k, ev in enumerate(self.timeline):
            offset = _month_index(ev.at) - start
            if not 0 <= offset < self.time.months:
                raise ValueError(f"timeline.{k}.at: {ev.at} is outside the horizon {self.time.start} + {self.time.months} months")
            if ev.outage and ev.outage.service != "focal" and ev.outage.service not in [s.name for s in self.services.all()]:
                raise ValueError(f"timeline.{k}.outage.service: unknown service {ev.outage.service!r}")
        return self

    @property
    def weight(self) -> float:
        """Real people represented by one simulated listener."""
        return self.market.population / self.market.agents


def _month_index(ym: str) -> int:
    y, m = ym.split("-")
    return int(y) * 12 + int(m) - 1


# ---------------------------------------------------------------- loading and errors


def _format_loc(loc: tuple[Any, ...]) -> str:
    # drop pydantic's union tags ("lognormal", "function-before[...]") from the path
    parts = [str(p) for p in loc if not (isinstance(p, str) and ("[" in p or p in {"constant", "lognormal", "normal", "uniform"}))]
    return ".".join(parts) or "(top level)"


def _fields_at(loc: tuple[Any, ...], root: type[BaseModel]) -> list[str]:
    """Field names allowed at the parent of ``loc`` in the schema ``root`` (for did-you-mean hints)."""
    model: Any = root
    for part in loc[:-1]:
        if isinstance(model, _MappingOf):  # `part` is a mapping key
            model = model.item
            continue
        if isinstance(part, int) or (isinstance(part, str) and part.isdigit()):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or part not in model.model_fields:
            return []
        model = _child_model(model, part)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _inner_model(tp: Any) -> Any:
    """The BaseModel inside list[...]/dict[..., ...]/Optional[...], or the type itself."""
    origin = get_origin(tp)
    if origin is None:
        return tp
    for arg in reversed(get_args(tp)):
        inner = _inner_model(arg)
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            return inner
    return tp


def _did_you_mean(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.5)
    return f"; did you mean '{close[0]}'?" if close else ""


def explain_validation_error(err: ValidationError, source: str, root: type[BaseModel] | None = None) -> ScenarioError:
    """One message naming the file, the key path, what was wrong and what is allowed.

    Serves every user file validated by pydantic (scenarios, sweeps, calibrations):
    ``root`` is the schema the file was validated against (default: Scenario). An unknown
    key is reported first, with a did-you-mean hint: a misspelt key also makes the key it
    should have been "missing".
    """
    errors = sorted(err.errors(), key=lambda x: x["type"] != "extra_forbidden")
    e = errors[0]
    loc = tuple(e["loc"])
    path = _format_loc(loc)
    text = e["msg"].removeprefix("Value error, ")
    if e["type"] == "extra_forbidden":
        allowed = _fields_at(loc, root or Scenario)
        msg = f"{path}: unknown key{_did_you_mean(str(loc[-1]), allowed)} (allowed here: {', '.join(allowed)})"
    elif e["type"] == "missing":
        msg = f"{path}: required key missing"
    elif e["type"] == "literal_error":
        options = re.findall(r"'([^']*)'", e.get("ctx", {}).get("expected", ""))
        msg = f"{path}: {text.lower()} (got {e.get('input')!r}){_did_you_mean(str(e.get('input')), options)}"
    elif e["type"] == "union_tag_invalid":
        msg = f"{path}: unknown distribution {e.get('input', {}).get('dist')!r} (allowed: {', '.join(DISTRIBUTIONS)})"
    elif e["type"] == "value_error":
        msg = f"{path}: {text}" if loc else text
    else:
        msg = f"{path}: {text} (got {e.get('input')!r})"
    more = len(errors) - 1
    return ScenarioError(f"{source}: {msg}" + (f" [and {more} more problem{'s' * (more > 1)}]" if more else ""))


def validate_scenario(data: Any, source: str) -> Scenario:
    """Validate a mapping into a Scenario, raising ScenarioError naming `source` and the key path.

    Every timeline event's ``set`` is tried on the scenario, so a bad key path or value
    fails here, at load, not months into a run.
    """
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: (top level): expected a mapping of scenario keys, got {type(data).__name__}")
    scenario = validate_scenario_data(data, source)
    names = [s.name for s in scenario.services.all()]
    for k, ev in enumerate(scenario.timeline):
        if ev.set:
            changed = apply_overrides(scenario, ev.set, source=f"{source}: timeline.{k}.set", check_timeline=False)
            if [s.name for s in changed.services.all()] != names:
                raise ScenarioError(f"{source}: timeline.{k}.set: a timeline event cannot add, remove or rename services "
                                    f"(the market has {', '.join(names)} throughout)")
    return scenario


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; every user error raises ScenarioError.

    A file may start from another with ``extends: other.yaml`` (path relative to the file):
    see :func:`merge_scenarios` for how the two combine.
    """
    return validate_scenario(_read_with_extends(Path(path), ()), str(path))


def _read_with_extends(path: Path, chain: tuple[Path, ...]) -> dict[str, Any]:
    data = read_yaml(path)
    if not isinstance(data, dict) or "extends" not in data:
        return data
    parent = data["extends"]
    if not isinstance(parent, str) or not parent:
        raise ScenarioError(f"{path}: extends: expected the path of a scenario file, got {parent!r}")
    base_path = (path.parent / parent).resolve()
    here = (*chain, path.resolve())
    if base_path in here:
        cycle = " -> ".join(p.name for p in (*here[here.index(base_path):], base_path))
        raise ScenarioError(f"{path}: extends: {parent} leads back to itself ({cycle})")
    if not base_path.is_file():
        raise ScenarioError(f"{path}: extends: {parent}: file not found (looked for {base_path})")
    base = _read_with_extends(base_path, here)
    if not isinstance(base, dict):
        raise ScenarioError(f"{base_path}: (top level): expected a mapping of scenario keys, got {type(base).__name__}")
    child = {k: v for k, v in data.items() if k != "extends"}
    return merge_scenarios(base, child)


def merge_scenarios(base: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    """A scenario mapping that is ``base`` changed by ``child``.

    JSON Merge Patch (RFC 7396) semantics, with one exception: mappings merge key by key
    (the child's values win, a ``null`` removes the key), lists and values are replaced,
    except ``timeline``, whose events are appended after the base's: events at the same
    date apply in order, so the child's win.
    """
    out = dict(base)
    for key, value in child.items():
        if key == "timeline" and isinstance(value, list) and isinstance(base.get("timeline"), list):
            # appended, then ordered by date; same-date events keep their order (the child's last)
            out[key] = sorted([*base["timeline"], *value], key=lambda ev: str(ev.get("at", "")) if isinstance(ev, dict) else "")
        else:
            out[key] = _merge_patch(base.get(key), value)
        if out[key] is None:
            del out[key]
    return out


def _merge_patch(base: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return patch
    out = dict(base) if isinstance(base, dict) else {}  # RFC 7396: a patch onto a non-mapping starts empty
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _merge_patch(out.get(key), value)
    return out


def _resolve(container: Any, key: str, where: str, source: str) -> Any:
    if isinstance(container, list):
        if key.isdigit() and int(key) < len(container):
            return int(key)
        names = [str(c.get("name")) for c in container if isinstance(c, dict)]
        if key in names:
            return names.index(key)
        raise ScenarioError(f"{source}: {where}{key}: no such item (use an index 0..{len(container) - 1}"
                            + (f" or a name: {', '.join(names)})" if names else ")"))
    return key


def apply_overrides(scenario: Scenario, overrides: dict[str, Any], source: str = "--set",
                    check_timeline: bool = True) -> Scenario:
    """A new Scenario with values replaced at dotted key paths.

    Paths name fields (``services.focal.ad_load``); list items are addressed by index or
    name (``services.competitors.Apple Music.plans.individual.price``). An unknown path
    raises ScenarioError with a did-you-mean hint; the result is validated again (its
    timeline events too, unless ``check_timeline`` is false).
    """
    data = scenario.model_dump(mode="python")
    for path, value in overrides.items():
        parts = path.split(".")
        node: Any = data
        model: Any = Scenario
        for depth, part in enumerate(parts):
            where = ".".join(parts[:depth]) + ("." if depth else "")
            key = _resolve(node, part, where, source)
            if model is _DIST and isinstance(node, dict):
                model = DISTRIBUTIONS.get(node.get("dist"), Constant)
            if isinstance(node, dict):
                allowed = _allowed_keys(model, node)
                if key not in allowed:
                    raise ScenarioError(f"{source}: {path}: unknown key '{part}' at '{where or '(top level)'}'"
                                        f"{_did_you_mean(part, allowed)} (allowed: {', '.join(allowed)})")
                model = _child_model(model, key)
            if depth == len(parts) - 1:
                node[key] = value
            else:
                if isinstance(node, dict) and node.get(key) is None:
                    node[key] = {}
                node = node[key]
                if not isinstance(node, (dict, list)):
                    raise ScenarioError(f"{source}: {path}: '{part}' is a value, not a section")
    if any(path.startswith("time.") for path in overrides):
        data["timeline"] = _events_within(data)
    return validate_scenario(data, source) if check_timeline else validate_scenario_data(data, source)


def _events_within(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Timeline events before the end of a (shortened) horizon: an override of ``time``
    that cuts the horizon drops the events after it rather than failing."""
    time = data.get("time") or {}
    try:
        end = _month_index(_year_month(time.get("start", "2015-01"))) + int(time.get("months", 120))
        return [ev for ev in data.get("timeline") or [] if _month_index(_year_month(ev["at"])) < end]
    except (ValueError, TypeError, KeyError):
        return data.get("timeline") or []  # let validation report the bad value


def validate_scenario_data(data: dict[str, Any], source: str) -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        raise explain_validation_error(err, source) from None


@dataclass(frozen=True)
class _MappingOf:
    """Schema marker: a ``dict[K, item]`` whose keys are ``keys`` (a Literal) or free (None)."""

    item: Any
    keys: tuple[str, ...] | None


_DIST = object()  # schema marker: a distribution, whose fields depend on its `dist`


def _allowed_keys(model: Any, node: dict[str, Any]) -> list[str]:
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    if isinstance(model, _MappingOf) and model.keys is not None:
        return list(model.keys)
    return list(node)


def _child_model(model: Any, key: str) -> Any:
    """The schema type found under ``key`` of ``model`` (a model class or a marker)."""
    if isinstance(model, type) and issubclass(model, BaseModel):
        ann = model.model_fields[key].annotation
        if get_origin(ann) is dict:
            key_type, item = get_args(ann)
            return _MappingOf(_inner_model(item), get_args(key_type) or None)
        if ann == get_args(Distribution)[0]:  # pydantic keeps the union without its Annotated metadata
            return _DIST
        return _inner_model(ann)
    if isinstance(model, _MappingOf):
        return model.item
    return model


def parse_set_options(items: list[str] | None, source: str = "--set") -> dict[str, Any]:
    """Parse ``KEY.PATH=VALUE`` strings; values are YAML scalars (``10.99``, ``true``, ``[1, 2]``)."""
    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise ScenarioError(f"{source}: '{item}': expected KEY.PATH=VALUE")
        key, raw = item.split("=", 1)
        try:
            out[key.strip()] = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            out[key.strip()] = raw
    return out


# ---------------------------------------------------------------- introspection


class ParamInfo(BaseModel):
    path: str
    default: Any
    unit: str
    description: str
    low: float | None = None
    high: float | None = None


def _walk(model: type[BaseModel], instance: BaseModel, prefix: str) -> list[ParamInfo]:
    rows: list[ParamInfo] = []
    for name, field in model.model_fields.items():
        value = getattr(instance, name)
        path = f"{prefix}{name}"
        if isinstance(value, BaseModel) and not isinstance(value, (Constant, Lognormal, Normal, Uniform)):
            rows += _walk(type(value), value, path + ".")
            continue
        if isinstance(value, list) and value and isinstance(value[0], BaseModel):
            labels = [getattr(item, "name", None) or getattr(item, "at", None) or str(k) for k, item in enumerate(value)]
            for k, item in enumerate(value):
                # items are labelled by name (segments, services) or date (timeline), so that
                # inserting one item does not relabel the others; repeats get a counter
                label = labels[k] if labels.count(labels[k]) == 1 else f"{labels[k]}#{labels[:k].count(labels[k]) + 1}"
                rows += _walk(type(item), item, f"{path}.{label}.")
            continue
        if isinstance(value, dict) and value and isinstance(next(iter(value.values())), BaseModel):
            for k, item in value.items():
                rows += _walk(type(item), item, f"{path}.{k}.")
            continue
        low = high = None
        for m in field.metadata:
            low = getattr(m, "ge", getattr(m, "gt", low)) if low is None else low
            high = getattr(m, "le", getattr(m, "lt", high)) if high is None else high
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        shown = value.model_dump() if isinstance(value, BaseModel) else value
        rows.append(ParamInfo(path=path, default=shown, unit=str(extra.get("unit", "-")),
                              description=field.description or "", low=low, high=high))
    return rows


def parameter_table(scenario: Scenario | None = None) -> list[ParamInfo]:
    """Every parameter with its value (the defaults if no scenario), unit, range and description."""
    scenario = scenario or Scenario()
    return _walk(Scenario, scenario, "")


def parameter_differences(a: Scenario, b: Scenario) -> list[dict[str, Any]]:
    """Parameters whose value differs between A and B: ``{"path", "a", "b", "unit", "description"}``.

    A path only one side has (a plan, a competitor) shows None on the other side.
    """
    rows_a = {p.path: p for p in parameter_table(a)}
    rows_b = {p.path: p for p in parameter_table(b)}
    out = []
    for path in [*rows_a, *(p for p in rows_b if p not in rows_a)]:
        pa, pb = rows_a.get(path), rows_b.get(path)
        va, vb = (None if p is None else p.default for p in (pa, pb))
        if va != vb and path not in ("name", "description"):
            ref = pa or pb
            out.append({"path": path, "a": va, "b": vb, "unit": ref.unit, "description": ref.description})
    return out


def differences_from_defaults(scenario: Scenario) -> list[dict[str, Any]]:
    """What a scenario assumed: ``{"path", "value", "default", "unit", "description"}`` for every
    parameter that differs from the default scenario."""
    # items of the default lists that this scenario does not have (the default "world" region) are left out
    return [{"path": d["path"], "value": d["b"], "default": d["a"], "unit": d["unit"], "description": d["description"]}
            for d in parameter_differences(Scenario(), scenario) if d["b"] is not None]


def scenario_to_yaml(scenario: Scenario) -> str:
    """The resolved scenario, every default filled, as YAML text."""
    return "# Resolved scenario: every default filled in (generated by freemium-sim).\n" + yaml.safe_dump(
        scenario.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
