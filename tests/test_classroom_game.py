"""The classroom game's state: joining, locking, rounds, save and resume (no browser)."""

from __future__ import annotations

import numpy as np
import pytest

from sim.agents.listeners import State
from sim.classroom.game import Decisions, Game, GameError, classroom_scenario, slot_name
from sim.scenario import ScenarioError, apply_overrides, load_scenario

LISTENERS = 2_000


@pytest.fixture(scope="module")
def market():
    return apply_overrides(load_scenario("scenarios/baseline.yaml"), {"time.months": 36})


def _game(market, months=3, listeners=LISTENERS) -> Game:
    return Game(market, listeners=listeners, months_per_round=months)


def test_slots_start_empty_and_named_competitors_keep_their_start(market):
    game = _game(market)
    pop, first = game.model.population, game.first_slot
    slots = game.model.services[first:first + game.slots]  # the scenario's entrants follow them
    assert [s.name for s in slots] == [slot_name(k) for k in range(game.slots)]
    assert game.slots == 16  # room for sixteen teams
    in_slot = (pop.service >= first) & (pop.service < first + game.slots)
    assert not np.any((pop.state == State.USER) & in_slot)
    # those placed on a slot forgot the market and all they did there; the others who know it come first
    np.testing.assert_array_equal(pop.known, np.flatnonzero(np.isin(pop.state, [State.AWARE, State.USER, State.LAPSED])))
    np.testing.assert_array_equal(pop.known, np.arange(pop.n_known))
    unknown = slice(pop.n_known, None)
    assert all((getattr(pop, name)[unknown] == initial).all() for name, (_, initial) in pop.HISTORY.items())
    assert not game.model.memory.sharing[unknown].any()
    # the named rivals start with the share the scenario gives each of them
    plain = classroom_scenario(market, LISTENERS, 16)
    named = game.first_slot - 1  # the scenario's competitors at the start (its entrants come later)
    each = market.initial.competitor / named * np.count_nonzero(pop.state != State.OUTSIDE)  # shares of those in reach
    for k in range(1, game.first_slot):
        assert np.count_nonzero((pop.state == State.USER) & (pop.service == k)) == pytest.approx(each, abs=1)
    assert plain.initial.competitor > market.initial.competitor
    game.play_round()
    assert not np.any((pop.state == State.USER) & in_slot)  # not launched: nobody joins a slot


def test_joining_refuses_empty_duplicate_long_and_too_many(market):
    game = _game(market)
    a = game.join("  Blue   Whales ")
    assert a.name == "Blue Whales" and game.team(a.token) is a and a.slot == 0
    with pytest.raises(GameError, match="Enter a team name"):
        game.join("   ")
    with pytest.raises(GameError, match="taken"):
        game.join("blue whales")
    with pytest.raises(GameError, match="at most"):
        game.join("x" * 40)
    for k in range(game.slots - 1):
        game.join(f"team {k}")
    with pytest.raises(GameError, match="full"):
        game.join("one more")
    assert game.team("nonsense") is None
    assert game.returning(None) is None


def test_a_browser_that_joined_comes_back_to_its_team(market):
    game = _game(market)
    team = game.join("A", browser="cookie-1")
    assert game.returning("cookie-1") is team
    assert game.returning("cookie-2") is None


def test_decisions_are_checked(market):
    game = _game(market)
    team = game.join("A")
    assert game.decide(team.token, {"price": 7.49, "free_tier": False}) == Decisions(price=7.49, free_tier=False)
    for bad in ({"price": -1}, {"price": float("nan")}, {"ad_load": "lots"}, {"free_tier": 1}, {"colour": "red"}):
        with pytest.raises(GameError):
            game.decide(team.token, bad)
    assert game.team(team.token).decisions.price == 7.49  # a refused change leaves the decisions as they were
    with pytest.raises(GameError, match="join"):
        game.decide("nobody", {"price": 5.0})


def test_a_round_launches_the_teams_with_their_locked_decisions(market):
    # 10,000 listeners: enough that a new team's free tier has listeners (and ads) in its first round
    # (at 2,000, with half the market not yet in reach, it has about 4 free listener-months)
    game = _game(market, listeners=10_000)
    cheap, dear, no_ads = game.join("Cheap"), game.join("Dear"), game.join("No ads")
    game.decide(cheap.token, {"price": 4.99, "marketing": 5.0})
    game.decide(dear.token, {"price": 12.99, "marketing": 5.0})
    game.decide(no_ads.token, {"price": 9.99, "free_tier": False})
    refused = []

    def meanwhile(month: int) -> None:  # a student who tries to change mid-round
        try:
            game.decide(cheap.token, {"price": 19.99})
        except GameError as exc:
            refused.append(str(exc))

    played = game.play_round(on_month=meanwhile)
    assert (played.number, played.start, played.months, game.model.t) == (1, 0, 3, 3)
    assert len(refused) == 3 and "locked" in refused[0]
    assert game.team(cheap.token).decisions.price == 4.99  # the locked decisions stayed
    svc = game.model.services
    assert svc[game.service_index(cheap)].policy.plans["individual"].price == 4.99
    assert svc[game.service_index(no_ads)].policy.free_tier is False
    board = {r["team"]: r for r in game.leaderboard()}
    assert board["Cheap"]["users"] > 0 and board["Dear"]["users"] > 0
    assert board["Cheap"]["revenue_subscriptions_m"] != board["Dear"]["revenue_subscriptions_m"]
    assert board["No ads"]["revenue_ads_m"] == 0.0 and board["Cheap"]["revenue_ads_m"] > 0.0
    # a team joining later is launched at the next round, not before
    late = game.join("Late")
    assert {r["team"]: r for r in game.leaderboard()}["Late"]["launched"] is False
    game.play_round()
    assert {r["team"]: r for r in game.leaderboard()}["Late"]["users"] > 0
    assert game.labels()[game.service_index(late)] == "Late"


def test_the_horizon_ends_the_game(market):
    game = Game(apply_overrides(market, {"time.months": 5}), listeners=LISTENERS, months_per_round=3)
    game.join("A")
    assert game.play_round().months == 3 and game.play_round().months == 2
    assert game.finished
    with pytest.raises(GameError, match="over"):
        game.play_round()
    with pytest.raises(GameError, match="over"):
        game.join("B")


def test_the_teacher_ends_the_game(market):
    game = _game(market)
    game.play_round()
    game.end()
    assert game.finished and game.model.t == 3
    with pytest.raises(GameError, match="over"):
        game.play_round()


def test_save_and_resume_replays_the_same_market(market):
    game = _game(market)
    a, b = game.join("A"), game.join("B")
    game.decide(a.token, {"price": 6.99})
    game.play_round()
    c = game.join("C")
    game.decide(b.token, {"ad_load": 6.0, "personalization": 0.9})
    game.play_round()
    game.decide(c.token, {"price": 11.99})  # waiting for round 3: kept too
    saved = game.to_json()
    resumed = Game.from_json(saved)
    assert [t.name for t in resumed.teams.values()] == ["A", "B", "C"]
    assert resumed.team(a.token).name == "A"  # the students' addresses still work
    assert resumed.team(c.token).decisions.price == 11.99
    assert resumed.model.t == game.model.t == 6
    for kpi in ("mau", "premium_subscribers", "revenue_ads_eur"):
        np.testing.assert_array_equal(resumed.model.records[kpi][:6], game.model.records[kpi][:6])
    assert resumed.summary_csv() == game.summary_csv()
    game.play_round()
    resumed.play_round()
    np.testing.assert_array_equal(resumed.model.records["mau"][:9], game.model.records["mau"][:9])
    game.end()
    assert Game.from_json(game.to_json()).finished


def test_a_bad_save_file_is_one_message(market):
    with pytest.raises(ScenarioError, match="game.json: cannot resume"):
        Game.from_json('{"format": "something else"}', "game.json")
    with pytest.raises(ScenarioError, match="cannot resume"):
        Game.from_json("not json", "game.json")


def test_summary_csv_has_every_month_and_team(market):
    game = _game(market)
    a = game.join("A")
    game.decide(a.token, {"price": 5.49})
    game.play_round()
    lines = game.summary_csv().splitlines()
    assert lines[0].startswith("date,round,service,team,mau,premium_subscribers")
    rows = [line.split(",") for line in lines[1:]]
    scenario_services = len(game.model.services) - game.slots  # the focal, named rivals and entrants
    assert len(rows) == 3 * (scenario_services + 1)  # 3 months x (scenario's services + team A)
    team_rows = [r for r in rows if r[3] == "A"]
    assert [r[0] for r in team_rows] == ["2015-01", "2015-02", "2015-03"] and team_rows[0][-5] == "5.49"


def test_too_many_competitors_leave_no_room(market):
    from sim.scenario import Scenario
    from sim.scenario.schema import MAX_SERVICES

    from sim.classroom.game import room

    entrants = len(market.all_services()) - 1 - len(market.services.competitors)
    crowded = market.model_dump(mode="python")
    crowded["services"]["competitors"] = [{"name": f"C{k}"} for k in range(MAX_SERVICES - 1 - entrants - 2)]
    with pytest.raises(ScenarioError, match="--teams must be from 3 to 2 "):  # room for two
        Game(Scenario.model_validate(crowded), listeners=LISTENERS)
    with pytest.raises(ScenarioError, match=f"--teams must be from 3 to {room(market)} "):
        Game(market, listeners=LISTENERS, slots=room(market) + 1)


def test_a_class_of_thirty_plays_in_one_market(market):
    """A class one by one: 32 players, 36 services in the market (a 64-bit trial mask), every one
    launched with its trial and its users."""
    game = Game(market, listeners=5_000, months_per_round=12, individuals=True)
    assert game.slots == 32 and game.individuals
    players = [game.join(f"Student {k}") for k in range(32)]
    for k, player in enumerate(players):
        game.decide(player.token, {"price": round(3.99 + 0.5 * k, 2), "marketing": 5.0})
    game.play_round()
    pop = game.model.population
    assert pop.trial_used.dtype == np.uint64
    board = {r["team"]: r for r in game.leaderboard()}
    assert all(board[p.name]["users"] > 0 for p in players)
    last = game.service_index(players[-1])  # its trials need the mask's upper 32 bits
    assert last >= 32 and np.any((pop.trial_used.astype(np.uint64) >> np.uint64(last)) & np.uint64(1))
    assert Game.from_json(game.to_json()).individuals


def test_views_show_the_teams(market):
    from sim.classroom.views import leaderboard_html, qr_svg, share_svg, team_svg

    game = _game(market)
    before = share_svg(game)
    a = game.join("A <b>")
    board = leaderboard_html(game)
    assert "data-team='A &lt;b&gt;'" in board and "enters the market next round" in board
    assert team_svg(game, a) == ""  # no chart before the service has played a month
    game.play_round()
    assert "enters" not in leaderboard_html(game)
    after = share_svg(game)
    assert before.startswith("<img class='classroom-shares'") and "image/svg+xml" in after and after != before
    assert "image/svg+xml" in team_svg(game, a)
    assert game.labels()[game.service_index(a)] == "A <b>"
    assert qr_svg("http://10.0.0.2:8766/join").startswith("<svg")


HOSTILE = ("<iframe onload=alert(1)>", "$\\undefinedcmd$", "W" * 24, "فريق الصقور", "🎧🔥 Beats")


def svg_text(img: str) -> str:
    import base64
    import re

    return base64.b64decode(re.search(r"base64,([^']*)", img).group(1)).decode()


@pytest.mark.filterwarnings("ignore:Glyph .* missing from font")  # emoji: the browser draws them
def test_hostile_names_are_text_everywhere(market):
    """Markup is escaped, mathtext is not parsed (the chart draws), every name is in the legend in full."""
    from sim.classroom.views import leaderboard_html, share_figure, share_svg, team_svg

    game = _game(market)
    teams = [game.join(name) for name in HOSTILE]
    game.play_round()
    board, chart = leaderboard_html(game), svg_text(share_svg(game))
    assert "<iframe" not in board and "&lt;iframe onload=alert(1)&gt;" in board
    assert "<iframe" not in chart and "&lt;iframe onload=alert(1)&gt;" in chart
    for team in teams:
        assert svg_text(team_svg(game, team)).startswith("<?xml")
    fig = share_figure(game)
    legend = fig.legends[0]
    assert [t.get_text() for t in legend.get_texts()] == [game.labels()[k] for k in game.live_services()]
    assert "$\\undefinedcmd$" in chart  # drawn as typed, dollars and all
    fig.canvas.draw()  # the legend lies inside the figure: no name is cut
    box, inside = legend.get_window_extent(), fig.bbox
    assert inside.x0 <= box.x0 and box.x1 <= inside.x1 and inside.y0 <= box.y0 and box.y1 <= inside.y1
    for bad in ("a\x00b", "evil\u202egnp.exe", "tab\x07"):
        with pytest.raises(GameError, match="control"):
            game.join(bad)


def test_tokens_are_long_random_and_checked(market):
    game = _game(market)
    a, b = game.join("A"), game.join("B")
    assert len(a.token) >= 22 and a.token != b.token  # 16 random bytes
    for bad in ("short", "a'><img src=x onerror=alert(1)>", "x" * 65, 12345):
        with pytest.raises(GameError, match="token"):
            game.join("C", token=bad)
    with pytest.raises(GameError, match="token"):
        game.join("C", token=a.token)


def test_no_decision_after_the_game_is_over(market):
    game = _game(market)
    a = game.join("A")
    game.play_round()
    game.end()
    with pytest.raises(GameError, match="over"):
        game.decide(a.token, {"price": 4.99})
    assert game.team(a.token).decisions.price == 9.99
    assert '"price": 9.99' in game.to_json()


def test_a_save_is_checked_before_it_is_replayed(market):
    """Every part of a save that a hand (or an attacker) can change is refused with one message
    naming the key path; nothing is replayed for it."""
    import json

    game = _game(market)
    a = game.join("A")
    game.play_round()
    doc = json.loads(game.to_json())

    def refused(change, match: str) -> None:
        bad = json.loads(json.dumps(doc))
        change(bad)
        with pytest.raises(ScenarioError, match=match):
            Game.from_json(json.dumps(bad), "game.json")

    refused(lambda d: d["scenario"]["choice"].update(noise_scale=float("nan")), r"game.json.*choice\.noise_scale")
    refused(lambda d: d["scenario"].update(colour="red"), r"game.json.*colour")
    refused(lambda d: d["teams"][0].update(token="a'><img src=x onerror=alert(1)>"), r"teams\.0: .*token")
    refused(lambda d: d["teams"][0].update(name="<b>" * 10), r"teams\.0: .*at most 24")
    refused(lambda d: d["teams"][0]["decisions"].update(price=-3), r"teams\.0: price")
    refused(lambda d: d["rounds"][0]["decisions"].update({"x" * 22: {}}), r"rounds\.0: .*had not joined")
    refused(lambda d: d.update(listeners=10**9), r"listeners: must be")
    refused(lambda d: d.update(extra=1), r"extra: unknown key")
    refused(lambda d: d.pop("teams"), r"teams: missing")
    assert Game.from_json(json.dumps(doc)).team(a.token).name == "A"


def test_the_server_resumes_a_saved_game(market, tmp_path, monkeypatch):
    import json

    from sim.classroom import page

    game = _game(market)
    game.join("A")
    game.play_round()
    saved = tmp_path / "game.json"
    saved.write_text(game.to_json())
    monkeypatch.setenv(page.ENV, json.dumps({"resume": str(saved)}))
    monkeypatch.setattr(page, "_game", None)
    resumed = page.shared_game()
    assert resumed is page.shared_game()  # one game for every page of the server
    np.testing.assert_array_equal(resumed.model.records["mau"][:3], game.model.records["mau"][:3])


def test_the_server_drops_missing_glyph_warnings_in_every_thread():
    """The classroom server's log stays clean when a team's name has emoji: svg_img's own
    catch_warnings is undone by any other thread's, so the server filters them process-wide."""
    import subprocess
    import sys

    code = ("import threading, warnings, sim.classroom.page\n"
            "t = threading.Thread(target=warnings.warn, args=('Glyph 127911 (\\\\N{HEADPHONE}) missing from font(s) "
            "DejaVu Sans.', UserWarning)); t.start(); t.join()\n"
            "warnings.warn('an unrelated warning', UserWarning)\n")
    err = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120).stderr
    assert "an unrelated warning" in err, err
    assert "Glyph" not in err, err
