"""Configuration of the market's mechanisms (ads, personalisation, service quality,
campaigns, competition, listening, loyalty, switching, entry, ecosystems, habit): one section per mechanism."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from sim.scenario.fields import P, Strict, YearMonth, _month_index


class AdsConfig(Strict):
    enabled: bool = P(True, "-", "Advertisers buy the free tier's impressions")
    advertisers: int = P(20, "advertisers", "Number of advertiser agents", ge=1, le=1000)
    total_budget: float = P(120e6, "EUR/month", "Audio advertising budgets of all advertisers together, at the start's audience", ge=0, le=1e11)
    budget_growth: float = P(0.08, "1/year", "Yearly growth of advertiser budgets beyond the audience's (the ad market's)", ge=-0.5, le=2)
    audience_elasticity: float = P(1.0, "-", "Budgets grow as (free listeners of all services / at the start) to this power: "
                                   "0 a fixed total, 1 in proportion to the audience", ge=0, le=2)
    price_elasticity: float = P(2.0, "-", "Elasticity of the impressions advertisers buy to the CPM: 1 a fixed spend "
                                "(more inventory only lowers the price), above 1 more inventory sells for more", ge=1, le=5)
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
    ticket_rate: float = P(0.003, "1/month", "Support tickets per paying user (premium or trial) per month", ge=0, le=1)
    free_ticket_share: float = P(1.0, "fraction", "Free users file tickets at this share of ticket_rate", ge=0, le=1)
    tickets_per_staff: float = P(1500.0, "tickets/month", "Tickets one advisor resolves in a month", gt=0, le=1e6)
    base_response_hours: float = P(1.5, "hours", "Response time of an idle support team", gt=0, le=1000)
    wait_threshold_hours: float = P(24.0, "hours", "Waits above this hurt satisfaction", gt=0, le=10000)
    wait_penalty: float = P(3.0, "EUR/month", "Goodwill lost by a listener who waited too long", ge=0, le=100)
    wait_review: float = P(0.5, "probability", "A listener who waited too long reconsiders their option", ge=0, le=1)
    wait_shape: Literal["threshold", "continuous"] = P(
        "threshold", "-", "threshold: only waits above wait_threshold_hours cost wait_penalty and prompt wait_review; "
        "continuous: every hour of waiting costs goodwill (wait_penalty per wait_threshold_hours, twice as steep past it) "
        "and the review probability grows with the wait up to wait_review at 4x the threshold")
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


class ListeningConfig(Strict):
    match_elasticity: float = P(1.0, "-", "Elasticity of hours to recommendation match", ge=0, le=5)
    premium_multiplier: float = P(1.6, "-", "Hours multiplier of premium (offline, no skip limits)", ge=0.1, le=10)
    ad_elasticity: float = P(0.02, "1/(ad-min/hour)", "Hours fall as exp(-ad_elasticity x ad_load) on the free tier", ge=0, le=2)
    satisfaction_elasticity: float = P(0.3, "-", "Hours rise with satisfaction around 0.5", ge=0, le=5)


class SwitchingConfig(Strict):
    enabled: bool = P(False, "-", "Moving to another service costs a user their library (churn goes to the free tier or "
                      "nothing), and a subscriber's review hazard falls with tenure")
    moving_base: float = P(5.0, "EUR/month", "Cost of moving to another service for any user (plausible 0-8)", ge=0, le=100)
    moving_per_tenure_month: float = P(0.1, "EUR/month per month", "Growth of the moving cost with tenure (playlists, "
                                       "library; plausible 0-0.3)", ge=0, le=10)
    moving_max_tenure_months: int = P(36, "months", "Tenure beyond which the moving cost stops growing", ge=0, le=600)
    moving_data_depth: float = P(1.0, "EUR/month", "Extra moving cost at full listening-data depth (plausible 0-4)",
                                 ge=0, le=100)
    long_tenure_ratio: float = P(0.2, "fraction", "A long-tenured subscriber's review rate over a new one's "
                                 "(plausible 0.3-1; 1 = no fall)", ge=0, le=1)
    tenure_months: float = P(12.0, "months", "Time constant of the review rate's fall with tenure (plausible 6-36)",
                             ge=0, le=240)


class EntryConfig(Strict):
    enabled: bool = P(False, "-", "A service entering the market is known and stocked gradually (else at once)")
    awareness_p: float = P(0.25, "1/month", "Bass innovation hazard of awareness of an entrant among listeners who know "
                           "the market (plausible 0.01-0.5)", gt=0, le=1)
    awareness_q: float = P(0.3, "1/month", "Bass imitation hazard of awareness of an entrant (plausible 0.05-1)", ge=0, le=5)
    consider_share: float = P(0.6, "fraction", "Share of the listeners who hear of an entrant who reconsider their option "
                              "that month (plausible 0-1)", ge=0, le=1)
    catalogue_start: float = P(0.9, "fraction", "Share of its content value an entrant offers at launch (plausible 0.4-1)",
                               ge=0, le=1)
    catalogue_months: float = P(6.0, "months", "Time constant of an entrant's catalogue and features catching up "
                                "(plausible 3-36)", gt=0, le=240)


class PodcastsConfig(Strict):
    share: float = P(0.0, "share", "Podcast hours a free user listens on top of their music hours, as a share of them "
                     "(0: none beyond the calibrated hours)", ge=0, le=2)


class EcosystemShares(Strict):
    """A region's people in each platform ecosystem (``sim.mechanics.ecosystems.ECOSYSTEMS``; fractions, a listener
    belongs to at most one)."""

    apple: float = P(0.0, "fraction", "Share of the region's people in Apple's ecosystem (own an iPhone)", ge=0, le=1)
    amazon: float = P(0.0, "fraction", "Share of the region's people in Amazon's (Prime members, not on an iPhone)", ge=0, le=1)
    google: float = P(0.0, "fraction", "Share of the region's people in Google's (Android with YouTube, not Prime)", ge=0, le=1)

    @model_validator(mode="after")
    def _at_most_one(self) -> "EcosystemShares":
        if self.apple + self.amazon + self.google > 1 + 1e-9:
            raise ValueError(f"apple + amazon + google = {self.apple + self.amazon + self.google:g}; a listener belongs to "
                             "at most one ecosystem, so the shares sum to at most 1")
        return self


class EcosystemBonus(Strict):
    """What a service's premium plans are worth more to its own ecosystem's members, EUR/month."""

    apple: float = P(0.0, "EUR/month", "Apple Music's premium plans to an iPhone owner (device integration, Siri, "
                     "Apple One from 2020-10; plausible 0-5)", ge=0, le=50)
    amazon: float = P(0.0, "EUR/month", "Amazon Music Unlimited's to a Prime member (the Prime price, $7.99 against "
                      "$9.99, and Alexa; plausible 0-5)", ge=0, le=50)
    google: float = P(0.0, "EUR/month", "YouTube Music's to an Android owner (preinstalled, YouTube Premium's ad-free "
                      "video; plausible 0-5)", ge=0, le=50)


class EcosystemsConfig(Strict):
    enabled: bool = P(False, "-", "A listener's platform ecosystem (iPhone, Prime, Android) adds a persistent bonus "
                      "to its own service's premium plans (sim.mechanics.ecosystems)")
    bonus: EcosystemBonus = P(EcosystemBonus(), "EUR/month", "Bonus of an ecosystem's own service's premium plans "
                              "to its members, by ecosystem")
    shares: dict[str, EcosystemShares] = P({}, "fraction", "Ecosystems' shares of each region's people: region -> "
                                           "{apple, amazon, google}, drawn once per listener; an unlisted region has none "
                                           "(sources: data/ecosystems_2015_2020.csv)")


class HabitConfig(Strict):
    growth: float = P(0.0, "EUR/month per year", "Yearly growth of every premium plan's value over free as the habit of "
                      "paying for streaming spreads and owning music fades (sim.mechanics.habit; 0 off)", ge=0, le=10)
    since: YearMonth = P("2015-01", "YYYY-MM", "Month the growth starts from (no extra value then or before)")
    until: YearMonth = P("2020-12", "YYYY-MM", "Month from which the value is held: the last the growth is fitted on")

    @model_validator(mode="after")
    def _in_order(self) -> "HabitConfig":
        if _month_index(self.until) < _month_index(self.since):
            raise ValueError(f"until ({self.until}) is before since ({self.since}); the growth runs from since to until")
        return self


class Mechanisms(Strict):
    ads: AdsConfig = AdsConfig()
    personalization: PersonalizationConfig = PersonalizationConfig()
    service_quality: ServiceQualityConfig = ServiceQualityConfig()
    campaigns: CampaignsConfig = CampaignsConfig()
    competition: CompetitionConfig = CompetitionConfig()
    listening: ListeningConfig = ListeningConfig()
    loyalty: LoyaltyConfig = LoyaltyConfig()
    switching: SwitchingConfig = SwitchingConfig()
    entry: EntryConfig = EntryConfig()
    podcasts: PodcastsConfig = PodcastsConfig()
    ecosystems: EcosystemsConfig = EcosystemsConfig()
    habit: HabitConfig = HabitConfig()
