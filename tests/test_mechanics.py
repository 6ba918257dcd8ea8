"""Unit tests of the mechanism functions: ad clearing, logit choice, network, clock, queue, listeners."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sim.agents.listeners import ListenerPopulation, State, Tier
from sim.agents.network import small_world
from sim.clock import Clock
from sim.mechanics import ads, service_quality
from sim.mechanics.choice import choice_probabilities, logit_choice
from tests.helpers import FixedDraws, small_scenario

money = st.floats(0.0, 1e7, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(m=st.integers(1, 6), s=st.integers(1, 3), data=st.data())
def test_clearing_never_exceeds_inventory_and_clears_above_the_reserve(m, s, data):
    demand = data.draw(hnp.arrays(float, (m, s), elements=money))
    values = data.draw(hnp.arrays(float, (m, s), elements=st.floats(0.0, 60.0)))
    supply = data.draw(hnp.arrays(float, s, elements=st.floats(0.0, 1e10)))
    reserve = data.draw(st.floats(0.0, 20.0))
    elasticity = data.draw(st.floats(1.0, 5.0))
    cpm, sold, spend = ads.clear(demand, values, supply, reserve, elasticity)
    assert np.all(sold <= supply * (1 + 1e-9))  # never sell more than the inventory
    fill = np.divide(sold, supply, out=np.zeros(s), where=supply > 0)
    assert np.all((fill >= 0) & (fill <= 1 + 1e-9))
    revenue = spend.sum(axis=0)
    on_offer = supply >= 1.0  # at least one impression
    np.testing.assert_allclose(revenue[on_offer], (sold * cpm / 1000.0)[on_offer], rtol=1e-9, atol=1e-6)
    assert np.all(revenue[~on_offer] == 0) and np.all(spend >= 0)  # absent inventory earns nothing
    assert np.isfinite(cpm[on_offer]).all()
    assert np.all(cpm[on_offer] >= reserve - 1e-9) and np.isnan(cpm[~on_offer]).all()
    # above the reserve the price sells the whole inventory
    above = on_offer & (cpm > reserve * (1 + 1e-9)) & (revenue > 0)
    np.testing.assert_allclose(sold[above], supply[above], rtol=1e-6)
    # each advertiser spends its money at its value, more below it, less above (none without money)
    assert np.all(spend[demand == 0] == 0)


def test_no_revenue_without_demand():
    cpm, sold, spend = ads.clear(np.zeros((3, 2)), np.full((3, 2), 10.0), np.array([1e6, 1e6]), 4.0, 2.0)
    assert sold.sum() == 0 and spend.sum() == 0 and np.all(cpm == 4.0)


def test_a_fixed_spend_raises_the_price_to_fill_the_inventory():
    demand = np.array([[1000.0], [1000.0]])
    values = np.array([[50.0], [50.0]])
    cpm, sold, spend = ads.clear(demand, values, np.array([100_000.0]), 4.0, 1.0)
    assert sold[0] == pytest.approx(100_000.0)  # fill rate 1
    assert cpm[0] == pytest.approx(20.0)  # 2000 EUR for 100k impressions
    assert spend.sum() == pytest.approx(2000.0)


def test_more_inventory_sells_for_more_at_a_lower_price_only_if_demand_is_elastic():
    demand, values = np.array([[1000.0], [3000.0]]), np.array([[30.0], [12.0]])
    supply = np.array([100_000.0])
    for elasticity, grows in ((1.0, False), (2.0, True), (3.0, True)):
        cpm, sold, spend = ads.clear(demand, values, supply, 1.0, elasticity)
        cpm2, sold2, spend2 = ads.clear(demand, values, 1.4 * supply, 1.0, elasticity)
        assert sold2[0] == pytest.approx(1.4 * sold[0]) and cpm2[0] < cpm[0]
        gain = spend2.sum() / spend.sum() - 1
        # isoelastic: revenue grows as inventory^(1 - 1/elasticity), the CPM falls as inventory^(-1/elasticity)
        assert gain == pytest.approx(1.4 ** (1 - 1 / elasticity) - 1) and (gain > 0.01) == grows
        assert cpm2[0] / cpm[0] == pytest.approx(1.4 ** (-1 / elasticity))


def test_at_the_reserve_part_of_the_inventory_stays_unsold():
    cpm, sold, spend = ads.clear(np.array([[100.0]]), np.array([[8.0]]), np.array([1e9]), 4.0, 2.0)
    assert cpm[0] == 4.0 and spend[0, 0] == pytest.approx(100.0 * 8.0 / 4.0)  # twice its money at half its value
    assert sold[0] == pytest.approx(1000 * 200.0 / 4.0) and sold[0] < 1e9


def test_budgets_follow_the_free_audience():
    cfg = small_scenario({"mechanisms.ads.budget_growth": 0.0, "mechanisms.ads.q4_boost": 0.0}).mechanisms.ads
    book = ads.AdvertiserBook.draw(cfg, np.array([True]), 4, np.random.default_rng(1))
    none, reference = book.budgets(0.0, 0.0, 5, cfg)  # no audience yet: the base budgets, no reference
    assert np.isnan(reference) and none.sum() == pytest.approx(cfg.total_budget)
    first, reference = book.budgets(2e6, 0.0, 5, cfg)
    assert reference == 2e6 and first.sum() == pytest.approx(cfg.total_budget)
    seen = ads.AdvertiserBook(book.budget, book.genre, book.allocation, reference)
    double, _ = seen.budgets(4e6, 0.0, 5, cfg)
    assert double.sum() == pytest.approx(cfg.total_budget * 2 ** cfg.audience_elasticity)
    fixed = cfg.model_copy(update={"audience_elasticity": 0.0})
    assert seen.budgets(4e6, 0.0, 5, fixed)[0].sum() == pytest.approx(cfg.total_budget)


def test_budgets_move_toward_better_returns():
    alloc = np.array([[0.5, 0.5]])
    new = ads.reallocate(alloc, np.array([[3.0, 1.0]]), np.array([True, True]), inertia=0.5, responsiveness=2.0)
    assert new[0, 0] > 0.5 and new.sum() == pytest.approx(1.0)
    same = ads.reallocate(alloc, np.array([[3.0, 1.0]]), np.array([True, True]), inertia=1.0, responsiveness=2.0)
    np.testing.assert_allclose(same, alloc)


def test_logit_choice_frequencies_match_probabilities():
    rng = np.random.default_rng(0)
    u = np.tile(np.array([[0.0, 1.0, 2.0, -1e9]], dtype=np.float32), (200_000, 1))
    chosen = logit_choice(u, 1.5, rng.random(200_000, dtype=np.float32))
    freq = np.bincount(chosen, minlength=4) / chosen.size
    p = choice_probabilities(u[:1], 1.5)[0]
    assert freq[3] == 0
    assert np.all(np.abs(freq - p) < 4 * np.sqrt(p * (1 - p) / chosen.size) + 1e-12)


def test_nested_choice_moves_less_to_other_services_than_within_one():
    """Nested logit (sim.mechanics.choice): nothing, then service 0's free tier and two plans, then service 1's plan.
    lambda 1 is the flat logit. Within a service the conditional shares are the flat logit's; a plan's utility
    moves the other nests' log shares by lambda / mu times its probability (Train 2009 eq. 4.5), against 1 / mu in
    the flat logit: a dearer plan sends lambda times less to nothing and to another service."""
    mu, lam, eps = 1.5, 0.5, 1e-6
    nest = np.array([0, 1, 1, 1, 2])
    u = np.array([[0.0, 1.0, 2.0, 1.5, 1.0]])
    np.testing.assert_allclose(choice_probabilities(u, mu, nest, 1.0), choice_probabilities(u, mu), rtol=1e-12)
    p = choice_probabilities(u, mu, nest, lam)[0]
    np.testing.assert_allclose(p.sum(), 1.0)
    np.testing.assert_allclose(p[1:4] / p[1:4].sum(), choice_probabilities(u[:, 1:4], mu)[0], rtol=1e-12)
    dearer = u - np.array([[0.0, 0.0, eps, 0.0, 0.0]])
    q = choice_probabilities(dearer, mu, nest, lam)[0]
    for other in (0, 4):
        np.testing.assert_allclose(np.log(q[other] / p[other]) / eps, lam / mu * p[2], rtol=1e-4)
    # the draw follows the probabilities
    rng = np.random.default_rng(1)
    chosen = logit_choice(np.repeat(u, 200_000, axis=0), mu, rng.random(200_000), nest, lam)
    freq = np.bincount(chosen, minlength=5) / chosen.size
    assert np.all(np.abs(freq - p) < 4 * np.sqrt(p * (1 - p) / chosen.size))


def test_small_world_is_symmetric_without_self_ties_and_homophilous():
    rng = np.random.default_rng(1)
    segment = rng.integers(0, 4, 20_000).astype(np.int16)
    adj = small_world(segment, 12, 0.3, 0.9, rng)
    assert (adj != adj.T).nnz == 0
    assert adj.diagonal().sum() == 0
    degree = np.diff(adj.indptr)
    assert abs(degree.mean() - 12) < 0.5
    rows = np.repeat(np.arange(segment.size), degree)
    within = np.mean(segment[rows] == segment[adj.indices])
    assert within > 0.9  # random mixing would give 0.25


def test_clock_converts_rates_exactly():
    week = Clock("2015-01", 12, "week")
    p = week.probability(0.1)
    assert 1 - (1 - p) ** (1 / week.months_per_step) == pytest.approx(0.1)
    assert week.monthly_rate(p) == pytest.approx(0.1)
    assert week.n_steps == 52 and week.dates[0].year == 2015
    month = Clock("2015-11", 3, "month")
    assert [d.month for d in month.dates] == [11, 12, 1] and month.step_of_month("2016-01") == 2


def test_more_staff_shorter_response():
    slow, _ = service_quality.response_hours(10_000, 0, 11_000, 1.5)
    fast, _ = service_quality.response_hours(10_000, 0, 50_000, 1.5)
    jammed, left = service_quality.response_hours(10_000, 0, 5_000, 1.5)
    assert fast < slow < jammed and left == 5_000


def test_population_views_are_read_only_and_selectable():
    scenario = small_scenario({"market.agents": 500})
    pop = ListenerPopulation(scenario, np.random.default_rng(3))
    view = pop[7]
    assert view.segment_name in pop.segment_names and view.state == "UNAWARE"
    with pytest.raises(TypeError):
        view.attributes["wtp"] = 1.0
    students = pop.select(segment="students")
    assert np.all(pop.segment[students] == pop.segment_names.index("students"))
    assert len(pop.select(state=State.UNAWARE)) == 500
    counts = np.bincount(pop.segment, minlength=len(pop.segment_names))
    expected = np.array([s.share for s in scenario.segments]) * 500
    assert np.all(np.abs(counts - expected) <= 1)  # exact allocation of segment shares


def test_every_listener_has_its_segments_age_band():
    scenario = small_scenario({"market.agents": 500})
    pop = ListenerPopulation(scenario, np.random.default_rng(3))
    bands = {s.name: s.age_band for s in scenario.segments}
    assert all(pop[i].age_band == bands[pop[i].segment_name] for i in range(0, 500, 37))
    young = pop.select(age_band="18-24")
    expected = [pop.segment_names.index(s.name) for s in scenario.segments if s.age_band == "18-24"]
    assert young.size > 0 and set(pop.segment[young]) == set(expected)
    assert young.size == np.isin(pop.segment, expected).sum()


def _ad_step(cfg, hours_per_listener: float, book=None, month: int = 5):
    """Two services (0 sells ads, 1 has no free tier), 200 free listeners of service 0, 4 genres."""
    rng = np.random.default_rng(5)
    book = book or ads.AdvertiserBook.draw(cfg, np.array([True, False]), 4, rng)
    n = 200
    taste = rng.dirichlet(np.ones(4), n)
    audience = ads.Audience.of(np.zeros(n, np.int64), np.full(n, hours_per_listener), taste, np.full(n, 0.5), 2)
    return book, ads.clear_market(book, audience, np.array([True, False]), np.array([[2.5], [0.0]]), np.array([0.6, 0.6]), cfg, 1e4, 0.0,
                          month, 1.0)


def test_ad_market_step_sells_at_the_reserve_when_inventory_is_abundant():
    cfg = small_scenario({"mechanisms.ads.price_elasticity": 1.0}).mechanisms.ads  # a fixed spend: the whole budget
    book, market = _ad_step(cfg, hours_per_listener=1e6)  # far more impressions than any budget buys
    assert book.allocation.shape == (cfg.advertisers, 3) and np.allclose(book.allocation.sum(axis=1), 1.0)
    assert book.budget.sum() == pytest.approx(cfg.total_budget)
    # every advertiser values an impression above the reserve: each spends its whole streaming budget
    assert market.cpm_eur[0] == cfg.reserve_cpm
    assert market.revenue_eur[0] == pytest.approx((book.budget * book.allocation[:, 0]).sum())
    assert market.impressions[0] == pytest.approx(1000 * market.revenue_eur[0] / cfg.reserve_cpm)
    assert 0 < market.fill_rate[0] < 1
    assert np.isnan(market.cpm_eur[1]) and np.isnan(market.impressions[1]) and market.revenue_eur[1] == 0
    assert np.allclose(market.book.allocation.sum(axis=1), 1.0) and np.all(market.book.allocation[:, 1] == 0)
    assert market.book.budget is book.budget and market.book.genre is book.genre
    assert market.book.audience == 200 * 1e4  # the audience the budgets were set for: 200 listeners x weight


def test_ad_market_step_scarce_inventory_sells_out_above_the_reserve():
    cfg = small_scenario().mechanisms.ads
    _, market = _ad_step(cfg, hours_per_listener=0.01, month=11)
    assert market.fill_rate[0] == pytest.approx(1.0) and market.cpm_eur[0] > cfg.reserve_cpm
    assert market.revenue_eur[0] == pytest.approx(market.cpm_eur[0] * market.impressions[0] / 1000)


def test_a_closed_ad_market_sells_nothing_and_keeps_the_book():
    cfg = small_scenario({"mechanisms.ads.enabled": False}).mechanisms.ads
    book, market = _ad_step(cfg, hours_per_listener=10.0)
    assert market.book is book and market.revenue_eur.tolist() == [0.0, 0.0]
    assert market.impressions[0] == 0 and np.isnan(market.impressions[1]) and np.isnan(market.cpm_eur).all()


def test_support_step_long_waits_cost_goodwill_and_carry_a_backlog():
    cfg = small_scenario().mechanisms.service_quality
    n = 4000
    users, service = np.arange(n), np.repeat([0, 1], n // 2)
    ones = np.zeros(n, np.float32)  # every draw 0: every user files a ticket, RAK where the wait is short
    draws = FixedDraws(ticket=ones, wait=np.full(n, 0.5, np.float32), rak=ones, outage=np.ones(n, np.float32), wait_review=ones)
    staff = np.array([0, 10_000])  # service 0 has nobody answering
    tier = np.full(n, Tier.PREMIUM, np.int8)
    out = service_quality.serve(users, service, tier, np.zeros(n, np.float32), np.zeros(2), np.zeros(2), staff, np.zeros(2),
                               np.array([1.0, 1.0]), draws, cfg, weight=100.0, dt=1.0)
    # the queue meets the expected tickets of the real subscribers
    np.testing.assert_allclose(out.tickets, n / 2 * 100 * cfg.ticket_rate)
    assert out.staff.tolist() == [0, 10_000]
    assert out.response_hours[0] == 12 * service_quality.HOURS_PER_MONTH and out.backlog[0] > 0
    assert out.backlog[1] == 0 and out.response_hours[1] < cfg.wait_threshold_hours
    assert np.all(out.goodwill[: n // 2] == np.float32(-cfg.wait_penalty)) and set(out.reconsider) == set(range(n // 2))
    assert np.all(out.goodwill[n // 2:] == np.float32(cfg.rak_lift)) and out.told_friends.tolist() == list(range(n // 2, n))


def test_support_staff_grows_with_subscribers_and_free_users_file_fewer_tickets():
    cfg = small_scenario({"mechanisms.service_quality.ticket_rate": 0.02,
                          "mechanisms.service_quality.free_ticket_share": 0.25}).mechanisms.service_quality
    n = 4000
    users, service = np.arange(n), np.zeros(n, np.int64)
    tier = np.repeat(np.array([Tier.PREMIUM, Tier.FREE], np.int8), n // 2)
    # a draw of 0.01 files a ticket at the paying users' 0.02, not at the free users' 0.005
    draws = FixedDraws(ticket=np.full(n, 0.01), wait=np.full(n, 0.5), rak=np.zeros(n), outage=np.ones(n),
                       wait_review=np.ones(n))
    out = service_quality.serve(users, service, tier, np.zeros(n, np.float32), np.zeros(1), np.zeros(1), np.array([10]),
                               np.array([0.5]), np.array([1.0]), draws, cfg, weight=100.0, dt=1.0)
    assert out.staff[0] == pytest.approx(10 + 0.5 * 2000 * 100 / 1000)  # the core plus 0.5 per thousand subscribers
    assert out.tickets[0] == pytest.approx(2000 * 100 * (0.02 + 0.02 * 0.25))
    assert out.told_friends.tolist() == list(range(n // 2))  # only the paying users filed (and were delighted)
