"""Write ``docs/numbers/teaching.json``: the figures docs/teaching.md quotes, from the runs it describes.

The dashboard's exercises run as the page runs them (:class:`sim.app.live.DashboardModel`, the
baseline with 20,000 listeners and its seed, each move handed to ``request`` in the month the
exercise says); the market game's lesson plays a scripted class (:class:`sim.classroom.game.Game`
with its defaults: four teams with the decisions listed in ``GAME_TEAMS``, four rounds of 12
months), and the same game without a team, the market the teams entered. Then puts the figures
into the docs (``sim.docnumbers``). About a minute on 2 idle cores.

    python -m tools.teaching_numbers
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim import docnumbers  # noqa: E402
from sim.app.controls import DEFAULT_LISTENERS, load_dashboard_scenario  # noqa: E402
from sim.app.live import DashboardModel  # noqa: E402
from sim.classroom.game import Game  # noqa: E402

BASELINE = ROOT / "scenarios" / "baseline.yaml"
AD_LOADS = (0.5, 2.5, 6.0, 12.0)  # exercise 1: ad-min/hour from January 2017 (2.5: the baseline's, not moved)
PERSONALISATION = (0.0, 0.6, 1.0)  # exercise 3: from January 2016 (0.6: the baseline's)
# the scripted class of the game's lesson: what each team decides every round
GAME_TEAMS = {"Cheap and free": {"price": 4.99, "free_tier": True, "ad_load": 2.5, "marketing": 2.0},
              "Premium only": {"price": 9.99, "free_tier": False, "marketing": 5.0},
              "Ad-funded": {"price": 12.99, "free_tier": True, "ad_load": 6.0, "marketing": 2.0},
              "Big spender": {"price": 9.99, "free_tier": True, "ad_load": 2.5, "marketing": 10.0}}
GAME_ROUNDS = 4
ENTRY_EASY = 0.2  # the teams' market share after the game from which the lesson calls entry easy


def month(model, when: str) -> int:
    """The step index of month ``when`` (YYYY-MM) in ``model``."""
    return int(np.flatnonzero(np.asarray(model.dates, dtype="datetime64[M]") == np.datetime64(when, "M"))[0])


def dashboard(months: int, moves: dict[str, dict[str, object]]) -> DashboardModel:
    """The baseline as the dashboard plays it for ``months`` months, with ``moves`` (YYYY-MM -> control -> value)."""
    model = DashboardModel(load_dashboard_scenario(str(BASELINE)), listeners=DEFAULT_LISTENERS)
    at = {month(model, when): changes for when, changes in moves.items()}
    for t in range(months):
        for name, value in at.get(t, {}).items():
            model.request(name, value)
        model.step()
    return model


def millions(x: float, digits: int = 0) -> str:
    return f"{x / 1e6:,.{digits}f}"


def percent(x: float, digits: int = 0) -> str:
    return f"{100 * x:.{digits}f} %"


def whole(x: float) -> str:
    return f"{x:.0f}"


def tenths(x: float) -> str:
    return f"{x:.1f}"


def kpi(model, name: str, when: str, service: int = 0) -> float:
    return float(model.records[name][month(model, when), service])


def figures(model, prefix: str, spec: list[tuple[str, str, str, Callable[[float], str]]]) -> dict[str, str]:
    """``prefix.name`` -> ``fmt(the focal service's kpi in month)`` for each (name, kpi, month, fmt) of ``spec``."""
    return {f"{prefix}.{name}": fmt(kpi(model, k, when)) for name, k, when, fmt in spec}


def users_of(model, name: str, when: str) -> float:
    """Monthly active users of the service called ``name``."""
    return kpi(model, "mau", when, [s.name for s in model.services].index(name))


def moved(control: str, values: tuple[float, ...], unmoved: float, when: str) -> dict[float, DashboardModel]:
    """The baseline played to December 2017 with ``control`` moved to each of ``values`` in month
    ``when`` (``unmoved``, the scenario's own value, is not moved: the ghost)."""
    return {v: dashboard(36, {when: {control: v}} if v != unmoved else {}) for v in values}


def table(header: list[str], runs: dict[float, DashboardModel], unmoved: float, cells) -> str:
    """A markdown table, a row per run of :func:`moved`: its value, then ``cells(model)`` (texts)."""
    rows = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    rows += ["| " + " | ".join([f"{v:g} (not moved)" if v == unmoved else f"{v:g}", *cells(m)]) + " |" for v, m in runs.items()]
    return "\n".join(rows) + "\n"


def ad_load_exercise() -> dict[str, str]:
    runs = moved("ad_load", AD_LOADS, 2.5, "2017-01")
    out = {"ex1.table": table(
        ["ad load from Jan 2017 (ad-min/hour)", "free users (M)", "premium (M)", "ad revenue (M EUR/month)",
         "subscriptions (M EUR/month)", "market share"], runs, 2.5,
        lambda m: [*(millions(kpi(m, name, "2017-12")) for name in ("free_users", "premium_subscribers", "revenue_ads_eur",
                                                                    "revenue_subscription_eur")),
                   percent(kpi(m, "market_share", "2017-12"))])}
    year = slice(month(runs[2.5], "2017-01"), month(runs[2.5], "2017-12") + 1)
    totals = {load: float(m.records["revenue_ads_eur"][year, 0].sum()) for load, m in runs.items()}
    for load, m in runs.items():
        key = f"ex1.{load:g}"
        out.update(figures(m, key, [("hours_jan", "listening_hours_per_free_user", "2017-01", whole),
                                    ("free_jan", "free_users", "2017-01", millions),
                                    ("premium_jan", "premium_subscribers", "2017-01", millions),
                                    ("ads_jan", "revenue_ads_eur", "2017-01", millions),
                                    ("ads_dec", "revenue_ads_eur", "2017-12", millions),
                                    ("total_dec", "revenue_total_eur", "2017-12", millions),
                                    ("subs_dec", "revenue_subscription_eur", "2017-12", millions),
                                    ("cpm_jan", "cpm_eur", "2017-01", tenths)]))
        out[f"{key}.ads_2017"] = millions(totals[load])
        out[f"{key}.others_dec"] = millions(sum(kpi(m, "mau", "2017-12", k) for k in range(1, len(m.services))))
    out["ex1.peak"] = f"{max(totals, key=totals.get):g}"
    return out


def price_hike_exercise() -> dict[str, str]:
    hike = {"2020-01": {"price": 10.99}}
    runs = {"none": dashboard(72, {}), "hike": dashboard(72, hike),
            "match": dashboard(72, {"2020-01": {"price": 10.99, "competitor_strategy": "match_price"}})}
    out: dict[str, str] = {}
    for name, m in runs.items():
        for when in ("2019-12", "2020-01", "2020-02", "2020-03", "2020-06", "2020-12"):
            out[f"ex2.{name}.churn.{when}"] = percent(kpi(m, "churn_premium_monthly", when), 1)
            out[f"ex2.{name}.subs.{when}"] = millions(kpi(m, "revenue_subscription_eur", when))
            out[f"ex2.{name}.premium.{when}"] = millions(kpi(m, "premium_subscribers", when), 1)
        out[f"ex2.{name}.free.2020-12"] = millions(kpi(m, "free_users", "2020-12"))
        out[f"ex2.{name}.rival.2020-12"] = millions(kpi(m, "mau", "2020-12", 1), 1)
        out[f"ex2.{name}.rival_price.2020-12"] = f"{kpi(m, 'price_individual_eur', '2020-12', 1):.2f}"
    base, hiked = runs["none"], runs["hike"]
    first = kpi(hiked, "revenue_subscription_eur", "2020-01") - kpi(base, "revenue_subscription_eur", "2020-01")
    out["ex2.first_month"] = "rises" if first > 0 else "does not rise"
    out["ex2.focal_users.2020-12"] = millions(kpi(base, "mau", "2020-12"))
    out["ex2.rival_name"] = base.services[1].name  # the dashboard's competitor controls act on the first
    return out


def personalisation_exercise() -> dict[str, str]:
    runs = moved("personalization", PERSONALISATION, 0.6, "2016-01")
    out = {"ex3.table": table(
        ["personalisation from Jan 2016", "free-tier hours per user per month", "ad revenue (M EUR/month)", "premium (M)",
         "subscriptions (M EUR/month)", "market share"], runs, 0.6,
        lambda m: [f"{kpi(m, 'listening_hours_per_free_user', '2017-12'):.1f}",
                   *(millions(kpi(m, name, "2017-12")) for name in ("revenue_ads_eur", "premium_subscribers",
                                                                    "revenue_subscription_eur")),
                   percent(kpi(m, "market_share", "2017-12"), 1)])}
    for level, m in runs.items():
        out.update(figures(m, f"ex3.{level:g}", [("hours_jan", "listening_hours_per_free_user", "2016-01", tenths),
                                                 ("ads_jun", "revenue_ads_eur", "2016-06", millions),
                                                 ("ads_dec", "revenue_ads_eur", "2017-12", millions),
                                                 ("subs_dec", "revenue_subscription_eur", "2017-12", millions)]))
    for name, kpi_name in (("subs", "revenue_subscription_eur"), ("ads", "revenue_ads_eur")):
        top, middle = kpi(runs[1.0], kpi_name, "2017-12"), kpi(runs[0.6], kpi_name, "2017-12")
        out[f"ex3.{name}_at_1"] = "lower" if top < middle else "higher"
    return out


def scripted_game(teams: dict[str, dict]) -> Game:
    """The game with its defaults, ``teams`` joined before round 1, ``GAME_ROUNDS`` rounds played."""
    game = Game(load_dashboard_scenario(str(BASELINE)), DEFAULT_LISTENERS)
    for name, decisions in teams.items():
        game.decide(game.join(name).token, decisions)
    for _ in range(GAME_ROUNDS):
        game.play_round()
    return game


def game_lesson() -> dict[str, str]:
    played, alone = scripted_game(GAME_TEAMS), scripted_game({})
    m, end = played.model, f"{played.model.dates[played.model.t - 1]:%Y-%m}"
    first_year = f"{m.dates[played.months_per_round - 1]:%Y-%m}"
    teams = [played.service_index(t) for t in played.teams.values()]
    share = m.records["market_share"]
    year1 = {t.name: float(share[month(m, first_year), played.service_index(t)]) for t in played.teams.values()}
    best = max(year1, key=year1.get)
    board = played.leaderboard()
    # users at the end, with the teams and without: where the teams' users come from
    mau, mau_alone = m.records["mau"][month(m, end)], alone.model.records["mau"][month(m, end)]
    others = [k for k in range(1, len(m.services)) if k not in teams]
    out = {"game.start": f"{m.dates[0]:%B %Y}", "game.end": f"{m.dates[m.t - 1]:%B %Y}",
           "game.focal_share.start": percent(float(share[0, 0])),
           "game.focal_share.year1": percent(float(share[month(m, first_year), 0])),
           "game.focal_share.end": percent(float(share[month(m, end), 0])),
           "game.focal_share.alone": percent(kpi(alone.model, "market_share", end)),
           "game.teams_share.year1": percent(float(share[month(m, first_year), teams].sum())),
           "game.teams_share.end": percent(float(share[month(m, end), teams].sum())),
           "game.entry": "easy" if float(share[month(m, end), teams].sum()) >= ENTRY_EASY else "hard",
           "game.best_year1": best, "game.best_year1.share": percent(year1[best], 1),
           "game.teams_users.end": millions(float(mau[teams].sum())),
           "game.market_growth": millions(float(mau.sum() - mau_alone.sum())),
           "game.focal_loss": millions(float(mau_alone[0] - mau[0])),
           "game.others_loss": millions(float(mau_alone[others].sum() - mau[others].sum())),
           "game.apple_users.end": millions(users_of(m, "Apple Music", end), 1),
           "game.apple_share.end": percent(kpi(m, "market_share", end, [s.name for s in m.services].index("Apple Music")), 1),
           "game.share_leader": max(board, key=lambda r: r["market_share"])["team"],
           "game.winner": board[0]["team"], "game.winner.profit": f"{board[0]['profit_m']:,.0f}",
           "game.loser": board[-1]["team"], "game.loser.profit": f"{board[-1]['profit_m']:,.0f}"}
    rows = ["| team | decisions every round | users (M) | premium (M) | market share | profit since launch (M EUR) |",
            "|---|---|---|---|---|---|"]
    for r in board:
        d = GAME_TEAMS[r["team"]]
        said = (f"{d['price']:.2f} EUR, " + (f"free tier with {d['ad_load']:g} ad-min/hour" if d["free_tier"] else "no free tier")
                + f", marketing {d['marketing']:g} M EUR/month")
        rows.append(f"| {r['team']} | {said} | {millions(r['users'], 1)} | {millions(r['premium'], 1)} | "
                    f"{percent(r['market_share'], 1)} | {r['profit_m']:,.0f} |")
    out["game.table"] = "\n".join(rows) + "\n"
    return out


def value(text: str) -> float:
    """A quoted figure as a number ("1,164" -> 1164, "4.9 %" -> 4.9)."""
    return float(text.replace(",", "").removesuffix("%").strip())


def broken_claims(numbers: dict[str, str]) -> list[str]:
    """The sentences of docs/teaching.md whose direction the figures no longer bear out (empty: the
    narrative follows the model). tests/test_teaching_numbers.py checks the committed figures."""
    def n(key: str) -> float:
        return value(numbers[key])

    loads = [f"{load:g}" for load in AD_LOADS]
    claims = {
        "ex1: 'the listening responds at once' (fewer free hours at 12 than at 2.5 ad-min/hour in January 2017)":
            n("ex1.12.hours_jan") < n("ex1.2.5.hours_jan"),
        "ex1: 'each impression sells dearer when there are few' (the CPM falls as the ad load rises, or stays at "
        "the floor price)":
            all(n(f"ex1.{a}.cpm_jan") >= n(f"ex1.{b}.cpm_jan") for a, b in zip(loads, loads[1:]))
            and n(f"ex1.{loads[0]}.cpm_jan") > n(f"ex1.{loads[-1]}.cpm_jan"),
        "ex1: 'ads push some free listeners to premium, so subscriptions move with the ad load too'":
            n("ex1.12.subs_dec") > n("ex1.0.5.subs_dec"),
        "ex2: 'reconsider, but few of them at once ... the loss shows over the following months' (churn not lower "
        "with the hike in its month, fewer premium subscribers by December 2020)":
            n("ex2.hike.churn.2020-01") >= n("ex2.none.churn.2020-01")
            and n("ex2.hike.premium.2020-12") < n("ex2.none.premium.2020-12"),
        "ex2: 'it follows the hike' (the competitor on match_price is dearer in December 2020)":
            n("ex2.match.rival_price.2020-12") > n("ex2.hike.rival_price.2020-12"),
        "ex3: 'listening responds in the first month' (free hours rise with personalisation)":
            n("ex3.0.hours_jan") < n("ex3.0.6.hours_jan") < n("ex3.1.hours_jan"),
        "ex3: 'within months ad revenue follows' (June 2016 ad revenue rises with personalisation)":
            n("ex3.0.ads_jun") <= n("ex3.0.6.ads_jun") <= n("ex3.1.ads_jun"),
        "game: 'the market grows ... (listeners who would otherwise use nothing)'": n("game.market_growth") > 0,
        "game: 'Spotify has ... M fewer and the other services ... M fewer'":
            n("game.focal_loss") >= 0 and n("game.others_loss") >= 0,
        "game: 'Share is not profit' (the best profit is not the largest share)":
            numbers["game.winner"] != numbers["game.share_leader"],
    }
    return [claim for claim, holds in claims.items() if not holds]


def main() -> int:
    numbers = {**ad_load_exercise(), **price_hike_exercise(), **personalisation_exercise(), **game_lesson()}
    path = docnumbers.write("teaching", "python -m tools.teaching_numbers", numbers, inputs=[BASELINE])
    changed = docnumbers.refresh_documents()
    print(f"wrote {path.relative_to(ROOT)} ({len(numbers)} figures); refreshed {', '.join(str(p.relative_to(ROOT)) for p in changed) or 'no doc'}")
    broken = broken_claims(numbers)
    for claim in broken:
        print(f"docs/teaching.md no longer follows the model: {claim}: rewrite it", file=sys.stderr)
    return 1 if broken else 0


if __name__ == "__main__":
    raise SystemExit(main())
