"""Choice among every service x tier x plan and "nothing": a nested logit.

Utility of an option for listener i (EUR/month; each term defined once below, ``listening_value``,
``felt_price``, ``real_price``, ``premium_value``, ``ecosystem_value``, ``ad_cost``, ``privacy_loss``, ``stay_value``, and
evaluated by numpy in ``utility``, for the deciders in ``utility_table`` and for each user's own option
in ``held_utility``):

    U = content_value_j * match_ij * hours_i / mean_hours
      + [premium] (wtp_i + restriction_gap_j) - price per user (plan, region, trial) x income burden - plan hassle
                  + [member of j's platform ecosystem] ecosystem bonus_j (sim.mechanics.ecosystems)
      - [free] ad_load_jr * hours_i * ad_sensitivity_i
      - [privacy-sensitive sharer] privacy_cost * personalization_j
      + taste_ij (a listener's persistent taste for service j, sim.mechanics.tastes)
      + [newcomer to j] marketing salience_j
      + [current option] (switching_cost(tenure, data depth) + goodwill_i)
      - [user of another service] moving cost (sim.mechanics.switching, charged by ``choose``)
    U(nothing) = outside_value_i

The choice is a nested logit (McFadden 1978; Train 2009, ch. 4): a service (or nothing), then one
of its offers (its free tier or a premium plan). The offers of one service share a nest: among
them the logit scale is ``mu = noise_scale``; between services and nothing it is ``mu / lambda``
(``lambda = choice.plan_nest`` in (0, 1]), the taste for a service varying more than the taste
for one of its plans over another:

    P(o) = exp(U_o / mu) * S_n ** (lambda - 1) / sum_n' S_n' ** lambda,
    S_n = sum_{o' in nest n} exp(U_o' / mu)

A dearer plan sends its holders to another plan or the free tier of the same service as the
flat logit does, and lambda times less to a competitor or to nothing (the service's inclusive
value moves lambda times less, Train 2009 eq. 4.3). ``lambda = 1`` is the flat logit
``softmax(U / noise_scale)`` (McFadden 1974). The same function scores a decider against all
options (matrix) or every user against its current option (vector), by numpy broadcasting. A
service's price level, ad load and free tier are those of the listener's region r
(``sim.policy.RegionalOffers``): a free tier not offered there is not an option.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit

from sim.kernels import AHEAD, prefetch
from sim.mechanics.ecosystems import ecosystem_value
from sim.mechanics.entry import consider_only
from sim.mechanics.personalization import shares_data
from sim.mechanics.prices import income_burden
from sim.mechanics.switching import charge_moving
from sim.mechanics.tastes import service_keys, taste_at, tastes
from sim.random import uniform_at

INELIGIBLE = -1e9  # utility of an option the listener may not take (student plan, family plan)


@dataclass(frozen=True)
class Options:
    """Every option of the market this step, arrays of shape (n_options,); option 0 is "nothing"."""

    service: np.ndarray  # int, -1 for nothing
    premium: np.ndarray  # bool
    free: np.ndarray  # bool
    plan: np.ndarray  # int index into the service's plan names, -1 for free/nothing
    price: np.ndarray  # EUR/month per user at list region prices (price * multiplier / users per account)
    hassle: np.ndarray  # EUR/month per user, non-price cost of the plan
    student_only: np.ndarray  # bool
    household_only: np.ndarray  # bool
    loss: np.ndarray | None = None  # (O, R) EUR/month per user felt above the reference price (sim.mechanics.prices)
    _held_tables: dict = field(default_factory=dict, init=False, repr=False, compare=False)  # held_index by shape

    def __len__(self) -> int:
        return self.service.shape[0]

    def index_of(self, service: np.ndarray, premium: np.ndarray, plan: np.ndarray) -> np.ndarray:
        """Option index of (service, premium?, plan) per listener.

        0 ("nothing") for a listener with no service; -1 for a user whose option is no longer
        offered (a free tier switched off, a plan withdrawn).
        """
        key = np.where(service < 0, -1, (service.astype(np.int64) * 2 + premium) * 64 + np.maximum(plan, 0))
        opt_key = np.where(self.service < 0, -1, (self.service.astype(np.int64) * 2 + self.premium) * 64 + np.maximum(self.plan, 0))
        order = np.argsort(opt_key)
        pos = np.searchsorted(opt_key[order], key)
        pos = np.minimum(pos, len(order) - 1)
        found = opt_key[order][pos] == key
        return np.where(key < 0, 0, np.where(found, order[pos], -1))

    def held_index(self, shape: tuple[int, int] | None = None) -> np.ndarray:
        """:meth:`index_of` as a lookup table for kernels: option index of (service, premium?, plan),
        int64 (S, 2, plans) for ``shape`` (S, plans) (default: the services and plans on offer),
        -1 where not offered (a free tier is plan 0). The same array for the same shape: read it, never write it."""
        if shape is None:
            shape = (max(int(self.service.max()) + 1, 1), max(int(self.plan.max()) + 1, 1))
        if shape not in self._held_tables:  # built once per table of options and shape: a step asks for it three times
            table = np.full((shape[0], 2, shape[1]), -1, np.int64)
            for o in range(1, len(self)):
                table[self.service[o], int(self.premium[o]), max(self.plan[o], 0)] = o
            self._held_tables[shape] = table
        return self._held_tables[shape]


def build_options(market) -> Options:
    """The option table from the services' current offers (``market`` is a ServiceTable)."""
    svc, prem, free, plan, price, student, household = [-1], [False], [False], [-1], [0.0], [False], [False]
    hassle = [0.0]
    for j in range(market.n):
        if market.free_tier[j]:
            svc.append(j); prem.append(False); free.append(True); plan.append(-1); price.append(0.0); hassle.append(0.0)
            student.append(False); household.append(False)
        for k, name in enumerate(market.plan_names):
            p = market.plan_price[j, k]
            if np.isnan(p):
                continue
            svc.append(j); prem.append(True); free.append(False); plan.append(k)
            price.append(p / market.users_per_account[j, k])
            hassle.append(market.plan_hassle[j, k])
            student.append(name == "student"); household.append(name in ("duo", "family"))
    return Options(np.array(svc), np.array(prem), np.array(free), np.array(plan), np.array(price, dtype=np.float32),
                   np.array(hassle, dtype=np.float32), np.array(student), np.array(household))


# ---------------------------------------------------------------- the utility's terms: one definition
# Each term is plain arithmetic on its values, so one definition serves the three evaluations: numpy
# arrays in :func:`utility` (the reference, and the initial market), and a listener's values in the
# kernels :func:`utility_table` (the deciders) and :func:`held_utility` (each user's own option), which
# call the compiled copies (``_term``, inlined: no call and no array passed).


def listening_value(content: float, personalization: float, lift: float, fraction: float, rel_hours: float) -> float:
    """The catalogue's value to the listener, EUR/month: ``content`` x the recommendation match (``1 + personalization
    x lift x fraction``, ``fraction`` the data depth fraction with this service, 0 for a newcomer) x their hours over the mean."""
    return content * (1.0 + personalization * lift * fraction) * rel_hours


def felt_price(price: float, multiplier: float, trial_factor: float) -> float:
    """A plan's price per user as the listener pays it, EUR/month: list price x the service's multiple in their region x
    the trial's discount on the mind (``1 - trial_salience`` for a first trial, else 1)."""
    return price * multiplier * trial_factor


def real_price(price: float, index: float, loss: float) -> float:
    """A nominal price over the region's consumer-price index, plus the loss felt above its reference (EUR/month)."""
    return price / index + loss


def premium_value(wtp: float, gap: float, price: float, weight: float, hassle: float) -> float:
    """What a plan is worth beyond the free tier, EUR/month: willingness to pay + the free tier's restrictions lifted
    - the price weighted (``price_weight`` x the region's income burden) - the plan's hassle."""
    return wtp + gap - price * weight - hassle


def ad_cost(ad_load: float, hours: float, sensitivity: float) -> float:
    """The ads a free user sits through, EUR/month: ad-min/hour x hours/month x EUR per ad-minute."""
    return ad_load * hours * sensitivity


def privacy_loss(privacy_cost: float, personalization: float) -> float:
    """What heavier personalisation costs a privacy-sensitive listener who shares data, EUR/month."""
    return privacy_cost * personalization


def stay_value(base: float, per_month: float, tenure: float, max_months: float, data: float, fraction: float) -> float:
    """The switching cost of leaving the current option, EUR/month: grows with tenure (capped) and the data depth fraction."""
    return base + per_month * np.minimum(tenure, max_months) + data * fraction


_listening_value, _felt_price, _real_price, _premium_value, _ecosystem_value, _ad_cost, _privacy_loss, _stay_value = (
    njit(inline="always", cache=True)(f)
    for f in (listening_value, felt_price, real_price, premium_value, ecosystem_value, ad_cost, privacy_loss, stay_value))


def switching_cost(tenure: np.ndarray, depth_fraction: np.ndarray, cfg) -> np.ndarray:
    """Cost of leaving the current option, EUR/month: grows with tenure and data depth (:func:`stay_value`)."""
    return stay_value(cfg.base, cfg.per_tenure_month, tenure, cfg.max_tenure_months, cfg.data_depth, depth_fraction)


def utility(pop, idx: np.ndarray, opt: np.ndarray, options: Options, market, scenario, current: np.ndarray) -> np.ndarray:
    """Utility (EUR/month) of option(s) ``opt`` for listeners ``idx``.

    Shapes broadcast: ``idx`` of shape (m, 1) with ``opt`` of shape (1, O) scores every
    option (m, O); ``idx`` and ``opt`` of shape (m,) score one option each.
    ``current`` is the current option index of each listener in ``idx`` (same shape as idx).
    """
    pers_cfg = scenario.mechanisms.personalization
    choice_cfg = scenario.choice
    j = options.service[opt]
    has = j >= 0
    js = np.maximum(j, 0)
    rel_hours = pop.base_hours[idx] / pop.mean_base_hours

    is_current_service = (pop.service[idx] == j) & has
    sharing = shares_data(pop.privacy_sensitive[idx], pop.consent_draw[idx], market.opt_in[js],
                         pers_cfg.opt_out_share, pers_cfg.opt_in_share)
    depth_frac = np.where(is_current_service & sharing, 1.0 - np.exp(-pop.data_depth[idx] / pers_cfg.tau_hours), 0.0)
    u = listening_value(market.content_value[js], market.personalization[js], pers_cfg.lift,
                        depth_frac if pers_cfg.enabled else 0.0, rel_hours)

    premium = options.premium[opt]
    trial_ok = premium & (market.trial_months[js] > 0) & ((pop.trial_used[idx].astype(np.int64) >> js) & 1 == 0) & ~is_current_service
    r = pop.region[idx]
    price = felt_price(options.price[opt], market.region_price[js, r], np.where(trial_ok, 1.0 - choice_cfg.trial_salience, 1.0))
    burden = income_burden([x.income for x in scenario.regions], choice_cfg.reference_income, choice_cfg.income_elasticity)
    price = price_in_real_terms(price, pop, idx, opt, options) * choice_cfg.price_weight * burden[r]
    u = u + np.where(premium, premium_value(pop.wtp[idx], market.restriction_gap[js], price, 1.0, options.hassle[opt]), 0.0)
    u = u + np.where(premium, ecosystem_value(market.ecosystem_bonus[js], pop.ecosystem[idx] == market.ecosystem[js]), 0.0)
    u = u - np.where(options.free[opt], ad_cost(market.ad_load[js, r], pop.base_hours[idx], pop.ad_sensitivity[idx]), 0.0)
    if pers_cfg.enabled:
        u = u - np.where(sharing & pop.privacy_sensitive[idx], privacy_loss(pers_cfg.privacy_cost, market.personalization[js]), 0.0)
    if choice_cfg.service_taste > 0:
        u = u + tastes(service_keys(pop.taste_key, market.n), pop.ident[idx], js, choice_cfg.service_taste)
    u = u + np.where(is_current_service, 0.0, market.salience[js])

    tenure_cost = switching_cost(pop.tenure[idx], depth_frac, choice_cfg.switching_cost)
    u = u + np.where(opt == current, tenure_cost + pop.goodwill[idx], 0.0)
    eligible = ~(options.student_only[opt] & ~pop.student[idx]) & ~(options.household_only[opt] & ~pop.household[idx])
    eligible &= pop.available[idx, js]  # launched in the listener's region, in the market (sim.mechanics.market)
    eligible &= ~options.free[opt] | market.free_in[js, r]  # the free tier is offered in their region
    u = np.where(has, np.where(eligible, u, INELIGIBLE), pop.outside_value[idx])
    return u.astype(np.float32)


def price_in_real_terms(price: np.ndarray, pop, idx: np.ndarray, opt: np.ndarray, options: Options) -> np.ndarray:
    """A nominal price per user as the listener feels it: over their region's price index, plus the felt
    loss of a price above its reference (``sim.mechanics.prices``; none when ``options.loss`` is None)."""
    if options.loss is None:
        return price
    return real_price(price, pop.price_index[idx], options.loss[opt, pop.region[idx]])


def nests(service: np.ndarray) -> np.ndarray:
    """The nest of each option from its service (O,) (``Options.service``), int64 (O,): 0 for nothing,
    ``j + 1`` for the offers of service j."""
    return service.astype(np.int64) + 1


def choice_probabilities(u: np.ndarray, noise_scale: float, nest: np.ndarray | None = None,
                         plan_nest: float = 1.0) -> np.ndarray:
    """Nested-logit probabilities of the options, shape as ``u`` (m, O): ``nest`` (O,) the nest of each
    option (:func:`nests`; None: every option its own nest), ``plan_nest`` the dissimilarity lambda
    (module docstring; 1: softmax(u / noise_scale))."""
    nest = np.arange(u.shape[1]) if nest is None else np.asarray(nest)
    w = np.exp((u - u.max(axis=1, keepdims=True)) / noise_scale)
    members = nest[:, None] == np.unique(nest)[None, :]  # (O, N)
    within = w @ members  # (m, N): S_n
    felt = np.where(within > 0, within, 1.0) ** (plan_nest - 1.0)
    weight = w * (felt @ members.T)
    return weight / weight.sum(axis=1, keepdims=True)


def logit_choice(u: np.ndarray, noise_scale: float, draw: np.ndarray, nest: np.ndarray | None = None,
                 plan_nest: float = 1.0) -> np.ndarray:
    """Sample one option per row of ``u`` (m, O) from :func:`choice_probabilities` by inverse CDF.

    ``draw`` is one uniform number per row, shape (m,), so the same draws give the same
    choices when utilities are the same (common random numbers across scenarios).
    """
    cdf = np.cumsum(choice_probabilities(u, noise_scale, nest, plan_nest), axis=1)
    return np.minimum((cdf < (draw * cdf[:, -1])[:, None]).sum(axis=1), u.shape[1] - 1)


# ---------------------------------------------------------------- kernels: the same utility, one listener at a time
# ``utility`` above is the readable reference (and scores the initial market once); the kernels
# below score the deciders (every option) and the users (their own) every step without (listeners x options) temporaries.


def kernel_inputs(pop, options: Options, market, scenario) -> tuple:
    """The arrays and constants the kernels read: (listener arrays, option arrays, service arrays, constants)."""
    pers, c = scenario.mechanisms.personalization, scenario.choice
    sw = c.switching_cost
    listeners = (pop.base_hours, pop.service, pop.privacy_sensitive, pop.consent_draw, pop.data_depth, pop.trial_used,
                 pop.wtp, pop.ad_sensitivity, pop.tenure, pop.goodwill, pop.student, pop.household,
                 pop.outside_value, pop.available, pop.region_price_index, pop.region, pop.ecosystem,
                 income_burden([r.income for r in scenario.regions], c.reference_income, c.income_elasticity),
                 pop.ident, service_keys(pop.taste_key, market.n))
    real = options.loss is not None  # prices felt in real terms, with the loss above the reference (price_in_real_terms)
    loss = options.loss if real else np.zeros((len(options), 1), np.float32)
    opts = (options.service, options.premium, options.free, options.price, options.hassle, options.student_only,
            options.household_only, loss)
    services = (market.opt_in, market.personalization, market.content_value, market.trial_months, market.restriction_gap,
                market.ad_load, market.salience, market.region_price, market.free_in, market.ecosystem, market.ecosystem_bonus)
    constants = np.array([pop.mean_base_hours, pers.opt_out_share, pers.opt_in_share, pers.tau_hours, pers.lift,
                          float(pers.enabled), c.trial_salience, pers.privacy_cost, sw.base, sw.per_tenure_month,
                          sw.max_tenure_months, sw.data_depth, c.price_weight, float(real), c.service_taste])
    return listeners, opts, services, constants


@njit(cache=True)
def weighted_prices(O, M, c, price_index, burden) -> np.ndarray:
    """Each plan's price as it weighs in a listener's utility, float64 (2, n_options, R): list price x the region's
    multiple (x the first trial's discount in ``[1]``), in real terms where they are felt so, x ``price_weight`` x the
    region's income burden (EUR/month); 0 for nothing. The table's ``price * weight`` is the product
    :func:`premium_value` takes, so a listener's premium term is that of :func:`utility` to the bit."""
    o_service, o_premium, o_free, o_price, o_hassle, o_student, o_household, o_loss = O
    price_mult = M[7]
    trial_salience, price_weight, real = c[6], c[12], c[13]
    out = np.zeros((2, o_service.size, price_index.size))
    for o in range(o_service.size):
        j = o_service[o]
        if j < 0:
            continue
        for r in range(price_index.size):
            for trial in range(2):
                price = _felt_price(o_price[o], price_mult[j, r], 1.0 - trial_salience if trial else 1.0)
                if real:
                    price = _real_price(price, price_index[r], o_loss[o, r])
                out[trial, o, r] = price * (price_weight * burden[r])
    return out


@njit(cache=True)
def utility_table(L, O, M, c, idx: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Utilities (EUR/month) of every option for listeners ``idx`` (m,) whose current options are
    ``current`` (m,), float64 (m, n_options): the deciders' table.

    The formula of :func:`utility`, one pair at a time (``L, O, M, c`` from :func:`kernel_inputs`), the
    plans' weighted prices looked up (:func:`weighted_prices`). The arrays are unpacked once here and the
    formula written inline: numba reference-counts arrays passed to a function, which would cost more than
    the formula. The branches on the option (tier, eligibility) repeat along every row, so the processor
    predicts them and they skip the terms an option does not have. Indices are unsigned: numba need not
    test each for a wraparound.
    """
    (base_hours, service, privacy, consent, depth, trial_used, wtp, ad_sens, tenure, goodwill, student, household,
     outside, available, price_index, region, ecosystem, burden, ident, taste_keys) = L
    o_service, o_premium, o_free, o_price, o_hassle, o_student, o_household, o_loss = O
    opt_in, personalization, content, trial_months, gap, ad_load, salience, price_mult, free_in, home, bonus = M
    mean_hours, opt_out_share, opt_in_share, tau, lift, personalize, trial_salience, privacy_cost = c[:8]
    switch_base, switch_per_month, switch_max_months, switch_data, price_weight, real, taste_scale = c[8:15]
    weighted = weighted_prices(O, M, c, price_index, burden)
    out = np.empty((idx.size, o_service.size))
    taste = np.zeros(taste_keys.size)  # the decider's taste for each service (sim.mechanics.tastes)
    for k in range(idx.size):
        if k + AHEAD < idx.size:  # the deciders are scattered: ask for a later one's fields while scoring this one
            prefetch(idx[k + AHEAD], base_hours, service, privacy, consent, depth, trial_used, wtp, ad_sens, tenure,
                     goodwill, student, household, outside, available, region, ecosystem, ident)
        i = np.uint64(idx[k])
        if taste_scale > 0.0:
            for j in range(taste.size):
                taste[j] = taste_at(taste_keys, ident[i], j, taste_scale)
        # what does not depend on the option, once per listener (in locals: a store to ``out`` could
        # alias the arrays, so the compiler would otherwise load them again for every option)
        svc, priv, r = service[i], privacy[i], np.uint64(region[i])
        shares_opt_in = (not priv) and consent[i] < opt_in_share
        shares_opt_out = (not priv) or consent[i] >= opt_out_share
        depth_frac = 1.0 - np.exp(-depth[i] / tau) if svc >= 0 else 0.0
        rel_hours = base_hours[i] / mean_hours
        hours_i, wtp_i, ad_sens_i, used, outside_i = base_hours[i], wtp[i], ad_sens[i], trial_used[i], outside[i]
        eco_i = ecosystem[i]
        is_student, in_household = student[i], household[i]
        tenure_i, goodwill_i, cur = tenure[i], goodwill[i], current[k]
        for o in range(o_service.size):
            j = o_service[o]
            if j < 0:  # nothing: the outside option
                out[k, o] = outside_i
                continue
            js = np.uint64(j)
            if ((o_student[o] and not is_student) or (o_household[o] and not in_household) or not available[i, js]
                    or (o_free[o] and not free_in[js, r])):
                out[k, o] = INELIGIBLE  # not for them, not launched in their region / not in the market, no free tier there
                continue
            current_service = svc == j
            sharing = shares_opt_in if opt_in[js] else shares_opt_out
            frac = depth_frac if current_service and sharing else 0.0
            u = _listening_value(content[js], personalization[js], lift, frac if personalize else 0.0, rel_hours)
            if o_premium[o]:
                trial_ok = trial_months[js] > 0 and ((np.int64(used) >> j) & 1) == 0 and not current_service
                u += _premium_value(wtp_i, gap[js], weighted[1 if trial_ok else 0, o, r], 1.0, o_hassle[o])
                u += _ecosystem_value(bonus[js], eco_i == home[js])
            if o_free[o]:
                u -= _ad_cost(ad_load[js, r], hours_i, ad_sens_i)
            if personalize and sharing and priv:
                u -= _privacy_loss(privacy_cost, personalization[js])
            u += taste[js]
            if not current_service:
                u += salience[js]
            if o == cur:
                u += _stay_value(switch_base, switch_per_month, tenure_i, switch_max_months, switch_data, frac) + goodwill_i
            out[k, o] = u
    return out


@njit(cache=True)
def held_utility(L, O, M, c, idx: np.ndarray, held: np.ndarray, fraction: np.ndarray, sharing: np.ndarray) -> np.ndarray:
    """Utility (EUR/month) each user ``idx[k]`` gets from the option ``held[k]`` they hold, float64 (m,);
    ``fraction[k]`` their data depth fraction and ``sharing`` (n,) bool whether each listener
    shares data with their service (both from ``personalization.sharers``).

    The formula of :func:`utility` for a listener's own offered option (``held`` >= 1, of their
    service) without the switching cost of leaving it: the trial and the marketing pull, which
    only a newcomer to a service feels, do not apply. The option is one they may take (a user
    who lost theirs, by a withdrawal or an exit, chose again in the same step), so eligibility
    is not checked. Users differ in tier and sharing as coin flips, so every term is computed
    and selected by a 0/1 factor (exact in floating point): no branch the processor would mispredict.
    A plan's weighted price is looked up (:func:`weighted_prices`, without a trial's discount).
    """
    (base_hours, service, privacy, consent, depth, trial_used, wtp, ad_sens, tenure, goodwill, student, household,
     outside, available, price_index, region, ecosystem, burden, ident, taste_keys) = L
    o_service, o_premium, o_free, o_price, o_hassle, o_student, o_household, o_loss = O
    opt_in, personalization, content, trial_months, gap, ad_load, salience, price_mult, free_in, home, bonus = M
    mean_hours, opt_out_share, opt_in_share, tau, lift, personalize, trial_salience, privacy_cost = c[:8]
    taste_scale = c[14]
    weighted = weighted_prices(O, M, c, price_index, burden)[0]
    out = np.empty(idx.size)
    for k in range(idx.size):
        i, o = np.uint64(idx[k]), np.uint64(held[k])  # unsigned: no wraparound test per read
        j = np.uint64(o_service[o])
        shares = sharing[i]
        frac = fraction[k] * shares
        u = _listening_value(content[j], personalization[j], lift, frac * personalize, base_hours[i] / mean_hours)
        r = np.uint64(region[i])
        u += _premium_value(wtp[i], gap[j], weighted[o, r], 1.0, o_hassle[o]) * o_premium[o]
        u += _ecosystem_value(bonus[j], ecosystem[i] == home[j]) * o_premium[o]
        u -= _ad_cost(ad_load[j, r], base_hours[i], ad_sens[i]) * o_free[o]
        u -= _privacy_loss(privacy_cost, personalization[j]) * (personalize * (shares & privacy[i]))
        u += taste_at(taste_keys, ident[i], j, taste_scale)
        out[k] = u
    return out


@njit(cache=True)
def logit_rows(u: np.ndarray, noise_scale: float, ids: np.ndarray, key: np.uint64, nest: np.ndarray,
               plan_nest: float) -> np.ndarray:
    """One option per row of ``u`` (m, O), int64 (m,): the nested logit of :func:`choice_probabilities`
    (``nest`` (O,) the nest of each option, ``plan_nest`` lambda) by inverse CDF with listener
    ``ids[k]``'s own draw ``uniform_at(key, ids[k])``, as :func:`logit_choice` does."""
    m, n_opt = u.shape
    out = np.empty(m, np.int64)
    w = np.empty(n_opt)
    n_nests = nest.max() + 1
    within = np.zeros(n_nests)
    of = nest.astype(np.uint64)  # unsigned: no wraparound test per lookup
    for k in range(m):
        # loops, not ``u[k].max()`` and ``within[:] = 0``: no array view a row; the maximum (exact in any order) in
        # two chains of comparisons, half as long
        top, top_odd = u[k, 0], u[k, n_opt - 1]
        for o in range(1, n_opt - 1, 2):
            top, top_odd = max(top, u[k, o]), max(top_odd, u[k, o + 1])
        top = max(top, top_odd)
        total = 0.0
        for n in range(n_nests):
            within[n] = 0.0
        for o in range(n_opt):
            w[o] = 0.0  # an ineligible option: exp is exactly 0 (no division, no call)
            if u[k, o] > INELIGIBLE / 2:
                z = (u[k, o] - top) / noise_scale
                w[o] = np.exp(z) if z > -746.0 else 0.0  # exp is exactly 0 below
            within[of[o]] += w[o]
        if plan_nest != 1.0:  # an option's weight is shared by its nest: S_n ** (lambda - 1), a power per nest
            for n in range(n_nests):
                if within[n] > 0.0:
                    within[n] = within[n] ** (plan_nest - 1.0)
        for o in range(n_opt):
            if w[o] > 0.0:  # adding a weight of 0 leaves the (non-negative) total as it is: not in the chain of additions
                if plan_nest != 1.0:
                    w[o] *= within[of[o]]
                total += w[o]
        threshold = uniform_at(key, ids[k]) * total
        pick, acc = 0, w[0]
        while acc < threshold and pick < n_opt - 1:
            pick += 1
            acc += w[pick]
        out[k] = pick
    return out


CHUNK = 16_384  # deciders whose (deciders x options) utilities are scored at once: 2 MB of 16 options


def choose(L, O, M, c, idx: np.ndarray, current: np.ndarray, noise_scale: float, key: np.uint64,
           ident: np.ndarray, moving: np.ndarray | None = None, heard: np.ndarray | None = None,
           plan_nest: float = 1.0) -> np.ndarray:
    """Each decider's option, int64 (m,): a nested-logit draw over every option (the choice stream's key at
    this step; a service, then its offers, ``plan_nest`` lambda: module docstring), each decider (slots
    ``idx``) drawing under their id (``ident`` (n,), the id in each slot).

    ``moving`` (m,) EUR/month: each decider's cost of moving to another service, charged on the other
    services' options (``sim.mechanics.switching``); ``heard`` (m,) int8: the entrant a decider has
    just heard of, weighed against their option only, -1 for none (``sim.mechanics.entry``); None: neither.
    The (deciders x options) utilities are materialised once, as the kernel's output, :data:`CHUNK` deciders
    at a time: a decider's choice depends on their own row only, and a table of a few MB stays in the cache
    between the kernels that write and read it (at 10M listeners all of the deciders' would be 100 MB, mapped
    afresh and read from memory every step).
    """
    chosen = np.empty(idx.size, np.int64)
    service, ids, nest = L[1][idx], ident[idx], nests(O[0])
    for a in range(0, idx.size, CHUNK):
        part = slice(a, a + CHUNK)
        u = utility_table(L, O, M, c, idx[part], current[part])
        if moving is not None:
            charge_moving(u, service[part], O[0], moving[part])
        if heard is not None:
            consider_only(u, current[part], O[0], heard[part], INELIGIBLE)
        chosen[part] = logit_rows(u, noise_scale, ids[part], key, nest, plan_nest)
    return chosen
