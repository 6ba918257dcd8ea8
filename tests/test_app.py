"""The teaching dashboard's wiring: controls -> scenario -> model, live changes, reset, the agent view, the page."""

from __future__ import annotations

import socket
import subprocess
import sys

import numpy as np
import pytest

from sim import app
from sim.agents.listeners import State, Tier
from sim.cli import main
from sim.model import MarketModel
from sim.scenario import Scenario, ScenarioError, apply_overrides, parameter_table

LISTENERS = 2_000  # the smallest the dashboard offers: fast tests


@pytest.fixture(scope="module")
def base() -> Scenario:
    return app.load_dashboard_scenario()


@pytest.fixture(scope="module")
def params(base):
    return app.model_params(base)


def test_sliders_reach_the_model(base):
    rival = base.services.competitors[0].name
    m = app.DashboardModel(base, listeners=LISTENERS, ad_load=4.5, price=11.49, personalization=0.25, trial_months=3,
                           support_staff=120, marketing_budget=7.0, wrapped=False, competitor_strategy="match_price",
                           competitor_price=8.49)
    focal, comp = m.services[0].policy, m.services[1].policy
    assert m.services[1].name == rival
    assert focal.ad_load == 4.5
    assert focal.plans["individual"].price == 11.49
    assert m.table.plan_price[0, 0] == 11.49  # the listeners' choice sees the new price
    assert (focal.personalization, focal.trial_months, focal.support_staff) == (0.25, 3, 120)
    assert focal.marketing_budget == 7.0e6  # the slider is in million EUR/month
    assert focal.wrapped is False
    assert (comp.strategy, comp.plans["individual"].price) == ("match_price", 8.49)
    assert m.population.n == LISTENERS
    assert m.weight == base.weight * base.market.agents / LISTENERS  # reported figures stay in real people


def test_a_setting_left_out_keeps_the_scenario_value(base):
    m = app.DashboardModel(base, listeners=LISTENERS)
    assert m.services[0].policy == base.services.focal


def test_unknown_setting_is_refused(base):
    with pytest.raises(TypeError, match="ad_lod"):
        app.DashboardModel(base, listeners=LISTENERS, ad_lod=3.0)


def test_out_of_range_setting_names_the_key_path(base):
    with pytest.raises(ScenarioError, match="services.focal.ad_load"):
        app.DashboardModel(base, listeners=LISTENERS, ad_load=99.0)


def test_every_control_has_a_widget_with_unit_and_schema_range(base, params):
    table = {p.path: p for p in parameter_table(base)}
    names = app._names(base)
    every = app.widgets(base, tuple(app.CONTROL_BY_NAME))
    for c in app.CONTROLS:
        w, info = every[c.name], table[c.path.format(**names)]
        if w["type"] in ("SliderFloat", "SliderInt"):
            assert info.unit in w["label"]
            low = c.limits[0] if c.limits else info.low
            high = c.limits[1] if c.limits else info.high
            assert low / c.scale <= w["min"] <= w["value"] <= w["max"] <= high / c.scale + c.step
            steps = (w["value"] - w["min"]) / w["step"]
            assert steps == pytest.approx(round(steps)), f"{c.name}: the value is off the slider's grid"
    assert every["ad_load"]["value"] == base.services.focal.ad_load
    assert every["price"]["value"] == base.services.focal.plans["individual"].price
    assert every["competitor_strategy"]["values"] == ["static", "match_price", "defend_share"]
    assert every["personalization"]["min"] == 0.0  # teaching exercise 3 sets it to 0


def test_only_build_time_controls_are_model_parameters(base, params):
    """Policies act live; SolaraViz's Reset only rebuilds with what a model is built with."""
    assert set(params) == {"scenario", "listeners"}
    assert set(app.LIVE_CONTROLS) == set(app.CONTROL_BY_NAME) - {"listeners"}
    assert app.LISTENER_LIMITS[0] <= params["listeners"]["value"] <= app.DEFAULT_LISTENERS
    assert params["listeners"]["label"] == "Simulated (listeners)"


def test_slider_defaults_rebuild_the_base_policy(base, params):
    settings = app.slider_defaults(params)
    assert settings.pop("scenario") is base
    m = app.DashboardModel(base, **{**settings, "listeners": LISTENERS})
    assert m.services[0].policy == base.services.focal
    assert [s.policy for s in m.services[1:]] == base.all_services()[1:]  # competitors, then entrants


def test_the_added_competitor_never_takes_the_focal_services_name():
    # a valid scenario whose focal service is "Apple Music" ended in a pydantic traceback
    scenario = app.with_competitor(Scenario.model_validate({"services": {"focal": {"name": "Apple Music"}}}))
    assert [s.name for s in scenario.all_services()] == ["Apple Music", "Rival 1"]
    assert "Rival 1" in app.live_widgets(app.DashboardModel(scenario, listeners=LISTENERS))["competitor_price"]["label"]


def test_a_competitor_is_added_when_the_scenario_has_none():
    scenario = app.with_competitor(Scenario())
    assert [c.name for c in scenario.services.competitors] == [app.DEFAULT_COMPETITOR["name"]]
    assert scenario.services.competitors[0].free_tier is False
    assert app.with_competitor(scenario) is scenario
    m = app.DashboardModel(scenario, listeners=LISTENERS)
    assert "competitor_price" in app.live_widgets(m)
    assert m.settings()["competitor_price"] == app.DEFAULT_COMPETITOR["plans"]["individual"]["price"]


def test_the_dashboard_runs_the_same_market_as_the_model(base):
    """The network sample draws from its own generator, so the dashboard's run equals a plain MarketModel's."""
    settings = {"listeners": LISTENERS, "ad_load": 3.0}
    dash = app.DashboardModel(base, **settings)
    plain = MarketModel(app.configure(base, settings))
    for _ in range(3):
        dash.step()
        plain.step()
    np.testing.assert_array_equal(dash.records["mau"][:3], plain.records["mau"][:3])
    np.testing.assert_array_equal(dash.records["revenue_ads_eur"][:3], plain.records["revenue_ads_eur"][:3])


def test_agent_view_data_has_the_right_shape(base):
    m = app.DashboardModel(base, listeners=LISTENERS)
    s = m.sample
    assert s.index.shape == (app.SAMPLE_SIZE,) and np.unique(s.index).size == app.SAMPLE_SIZE
    assert s.xy.shape == (app.SAMPLE_SIZE, 2) and np.abs(s.xy).max() <= 1.0 + 1e-12
    assert s.edges.ndim == 2 and s.edges.shape[1] == 2 and s.edges.shape[0] > app.SAMPLE_SIZE // 2
    friends = m.population.friends
    assert all(friends[s.index[i], s.index[j]] for i, j in s.edges)  # every drawn tie is a friendship
    m.step()
    codes = app.listener_codes(m.population, s.index)
    assert codes.shape == (app.SAMPLE_SIZE,) and codes.min() >= 0 and codes.max() < len(app.categories(m))
    users = m.population.state[m.population.slot_of[s.index]] == State.USER  # the sample holds ids
    assert np.all((codes >= 3) == users)  # codes 0-2 are non-users, 3 on are users of a service
    rows = app.describe_listener(m, int(s.index[0]))
    assert rows[0][1].startswith(f"#{s.index[0]} ")


def test_fully_mixed_market_still_gives_a_sample():
    mixed = apply_overrides(app.with_competitor(Scenario()), {"network.kind": "fully_mixed"})
    m = app.DashboardModel(mixed, listeners=LISTENERS)
    assert m.sample.index.shape == (app.SAMPLE_SIZE,) and m.sample.edges.shape == (0, 2)


@pytest.mark.parametrize("x, expected", [(0.0, 1.0), (0.93, 1.0), (1.0, 1.0), (1.2, 1.5), (7.1, 8.0), (9.0, 10.0),
                                         (312.0, 400.0), (np.nan, 1.0)])
def test_nice_ceiling(x, expected):
    assert app.nice_ceiling(x) == pytest.approx(expected)


def test_figures_render_and_follow_the_model(base):
    m = app.DashboardModel(base, listeners=LISTENERS)
    charts, network = app.MarketCharts(m), app.NetworkFigure(m)
    pngs = [*charts.pngs(), network.png(0)]
    for _ in range(6):
        m.step()
    later = [*charts.pngs(), network.png(5)]
    assert len(later) == 7
    for before, after in zip(pngs, later):
        assert before.startswith(b"\x89PNG") and after.startswith(b"\x89PNG")
        assert before != after
    assert charts.pngs() == later[:6]  # nothing changed, nothing moves


def test_readout_and_notes_text(base):
    m = app.DashboardModel(base, listeners=LISTENERS)
    assert "not started" in app.readout(m)
    m.step()
    assert app.readout(m).startswith(f"<b>{m.dates[0]:%B %Y}</b> · ")
    notes = app.run_notes(m)
    assert "Live changes: none yet." in notes and f"Simulated {LISTENERS:,} listeners" in notes
    m.request("ad_load", 5.0)
    assert "Next month (Feb 2015): ad load 2.5→5." in app.run_notes(m)
    m.step()
    notes = app.run_notes(m)
    assert "Live changes: Feb 2015 ad load 2.5→5." in notes and "Next month" not in notes


# ---------------------------------------------------------------- live changes


def _run(model: app.DashboardModel, months: int) -> app.DashboardModel:
    for _ in range(months):
        model.step()
    return model


def test_a_live_change_acts_on_the_running_model_from_the_next_month(base):
    m = _run(app.DashboardModel(base, listeners=LISTENERS), 3)
    mau = m.records["mau"][:3].copy()
    m.request("ad_load", 5.0)
    assert m.services[0].policy.ad_load == 2.5 and m.settings()["ad_load"] == 5.0  # waits for the next month
    m.step()
    assert m.t == 4  # the market went on, it was not rebuilt
    assert m.services[0].policy.ad_load == 5.0 and m.scenario.services.focal.ad_load == 5.0
    np.testing.assert_array_equal(m.records["mau"][:3], mau)  # the past stays as it was
    assert [(c.step, c.label(m.names)) for c in m.live_changes] == [(3, "ad load 2.5→5")]
    assert m.start.services.focal.ad_load == 2.5  # what the run started with


def test_a_live_change_is_the_same_as_set_policy(base):
    """The dashboard adds no mechanics of its own: a live move is a set_policy call between two months."""
    live = _run(app.DashboardModel(base, listeners=LISTENERS), 2)
    plain = _run(MarketModel(app.configure(base, {"listeners": LISTENERS})), 2)
    live.request("price", 12.99)
    plain.set_policy({"services.focal.plans.individual.price": 12.99})
    _run(live, 3)
    _run(plain, 3)
    np.testing.assert_array_equal(live.records["premium_subscribers"][:5], plain.records["premium_subscribers"][:5])
    assert live.table.plan_price[0, 0] == 12.99


def test_live_competitor_strategy_and_scaled_controls(base):
    m = _run(app.DashboardModel(base, listeners=LISTENERS), 1)
    rival = m.services[1].name
    m.request("competitor_strategy", "match_price")
    m.request("marketing_budget", 30.0)
    m.request("wrapped", False)
    m.step()
    assert m.services[1].policy.strategy == "match_price"
    assert m.services[0].policy.marketing_budget == 30e6  # the control is in million EUR/month
    assert m.services[0].policy.wrapped is False
    labels = [c.label(m.names) for c in m.live_changes]
    assert f"{rival} static→match_price" in labels and "Wrapped on→off" in labels


def test_a_drag_across_months_is_one_marker(base):
    m = _run(app.DashboardModel(base, listeners=LISTENERS), 2)
    for value in (3.0, 3.5, 4.0):  # a slider dragged while playing: a value each month
        m.request("ad_load", value)
        m.step()
    assert [(c.step, c.label(m.names)) for c in m.live_changes] == [(2, "ad load 2.5→4")]
    m.request("ad_load", 2.5)  # back where it was: nothing to mark
    m.step()
    assert m.live_changes == []
    m.request("ad_load", 3.0)  # a new move just after: a new marker, at its own month
    m.step()
    assert [(c.step, c.label(m.names)) for c in m.live_changes] == [(6, "ad load 2.5→3")]
    m.request("ad_load", 2.5)
    m.step()
    _run(m, 3)
    m.request("ad_load", 6.0)
    m.request("ad_load", 2.5)  # a later request before the month replaces the earlier one
    m.step()
    assert m.live_changes == [] and m.services[0].policy.ad_load == 2.5


def test_only_live_controls_can_change_live(base):
    m = app.DashboardModel(base, listeners=LISTENERS)
    with pytest.raises(TypeError, match="listeners"):
        m.request("listeners", 5_000)


def test_charts_mark_live_changes(base):
    m = _run(app.DashboardModel(base, listeners=LISTENERS), 4)
    unmarked = app.MarketCharts(m).pngs()
    m.live_changes.append(app.LiveChange(2, "ad_load", 2.5, 5.0))
    marked = app.MarketCharts(m).pngs()
    assert all(a != b for a, b in zip(unmarked, marked))


def test_importing_the_module_stays_light():
    code = "import sys, sim.app; print(sorted(m for m in ('solara', 'mesa.visualization') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_cli_refuses_a_bad_scenario_before_starting_a_server(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("services: {focal: {name: Spotify, ad_load: -1}}\n")
    assert main(["dashboard", str(bad)]) == 2
    assert "services.focal.ad_load" in capsys.readouterr().err


def test_server_command_and_env(tmp_path):
    cmd = app.server_command("127.0.0.1", 8123)
    assert cmd[:5] == [sys.executable, "-m", "solara", "run", "sim.app"]
    assert cmd[cmd.index("--port") + 1] == "8123" and "--production" in cmd
    assert "--no-check-version" in cmd  # no request to PyPI at every start (the browser test proves none is made)
    env = app.server_env(tmp_path / "x.yaml")
    assert env[app.SCENARIO_ENV] == str((tmp_path / "x.yaml").resolve())
    assert env["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] == "false" and env["SOLARA_THEME_SHOW_BANNER"] == "false"


@pytest.mark.parametrize("command", ["dashboard", "classroom"])
def test_an_impossible_or_busy_port_is_one_message(command, capsys):
    assert main([command, "--port", "70000"]) == 2
    assert "--port: must be from 1 to 65535 (got 70000)" in capsys.readouterr().err
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main([command, "--port", str(port)]) == 2
    assert f"--port {port}: cannot listen there" in capsys.readouterr().err


def test_classroom_refuses_bad_input_before_starting(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("services: {focal: {name: Spotify, ad_load: -1}}\n")
    assert main(["classroom", str(bad)]) == 2
    assert "services.focal.ad_load" in capsys.readouterr().err
    assert main(["classroom", "--resume", str(tmp_path / "none.json")]) == 2
    assert "--resume" in capsys.readouterr().err
    (tmp_path / "notes.json").write_text('{"hello": 1}')
    assert main(["classroom", "--resume", str(tmp_path / "notes.json")]) == 2
    assert "not a saved classroom game" in capsys.readouterr().err
    (tmp_path / "game.json").write_text('{"format": "freemium-sim classroom game 1"}')
    assert main(["classroom", "scenarios/baseline.yaml", "--resume", str(tmp_path / "game.json")]) == 2
    assert "give no scenario, --teams or --individuals with it" in capsys.readouterr().err
    assert main(["classroom", "--resume", str(tmp_path / "game.json")]) == 2  # the save is checked whole
    assert "game.json: cannot resume: scenario: missing" in capsys.readouterr().err
    assert main(["classroom", "--listeners", "10"]) == 2
    assert "--listeners" in capsys.readouterr().err
    assert main(["classroom", "--teams", "2"]) == 2
    assert "--teams must be from 3 to" in capsys.readouterr().err


def test_classroom_refuses_a_tampered_save_before_starting(tmp_path, capsys):
    """A save with a NaN in its scenario, or a token that is markup, never reaches the server."""
    import json

    from sim.classroom.game import Game
    from sim.scenario import apply_overrides, load_scenario

    game = Game(apply_overrides(load_scenario("scenarios/baseline.yaml"), {"time.months": 12}), listeners=2_000,
                months_per_round=3)
    game.join("A")
    doc = json.loads(game.to_json())
    doc["scenario"]["choice"]["noise_scale"] = float("nan")
    (tmp_path / "nan.json").write_text(json.dumps(doc))
    assert main(["classroom", "--resume", str(tmp_path / "nan.json")]) == 2
    assert "nan.json: cannot resume: scenario: choice.noise_scale" in capsys.readouterr().err
    doc = json.loads(game.to_json())
    doc["teams"][0]["token"] = "a'><img src=x onerror=alert(1)>"
    (tmp_path / "token.json").write_text(json.dumps(doc))
    assert main(["classroom", "--resume", str(tmp_path / "token.json")]) == 2
    assert "token.json: cannot resume: teams.0: a team token is 12 to 64" in capsys.readouterr().err


def test_classroom_tells_the_address_students_type():
    from sim.commands.classroom import public_host, students_line

    assert "this machine only" in students_line("127.0.0.1", "http://127.0.0.1:8766")
    assert public_host("0.0.0.0") not in ("0.0.0.0", "")  # the machine's address on its network, not the wildcard
    assert "network address" in students_line("0.0.0.0", f"http://{public_host('0.0.0.0')}:8766")


# ---------------------------------------------------------------- the page, rendered by solara (no browser)


@pytest.fixture
def page():
    """The dashboard page rendered in-process inside the app layout the server gives it
    (SolaraViz puts its controls in the layout's sidebar); yields solara's render context."""
    import solara

    @solara.component
    def Served():
        with solara.AppLayout():
            app.page_component()()

    box, rc = solara.render(Served(), handle_error=False)
    yield rc
    rc.close()


def _html(rc, css_class: str) -> str:
    """The inner HTML of the page's one element with ``css_class``."""
    import solara

    widgets = [w for w in rc.find(solara.widgets.HTML).widgets if css_class in w.attributes.get("class", "")]
    assert len(widgets) == 1, f"expected one .{css_class}"
    return widgets[0].unsafe_innerHTML


def _button(rc, label: str):
    import ipyvuetify as v

    return rc.find(v.Btn, children=[label]).widget


def _live_slider(rc, name: str):
    """The slider widget of live control ``name``."""
    import ipyvuetify as v

    box = rc.find(v.Sheet, class_=f"d-flex ma-0 freemium-live freemium-live-{name}").widget
    (slider,) = [w for w in box.children if isinstance(w, v.Slider)]
    return slider


def test_page_moves_policies_live_and_reset_rebuilds(page):
    import ipyvuetify as v

    assert "not started" in _html(page, "freemium-readout")
    for _ in range(2):
        _button(page, "Step").click()
    assert "February 2015" in _html(page, "freemium-readout")

    _live_slider(page, "ad_load").v_model = 5.0  # as the browser sets it
    assert "Next month (Mar 2015): ad load 2.5→5." in _html(page, "freemium-settings")
    _button(page, "Step").click()
    assert "March 2015" in _html(page, "freemium-readout")  # went on, no reset
    assert "Live changes: Mar 2015 ad load 2.5→5." in _html(page, "freemium-settings")
    assert _live_slider(page, "ad_load").v_model == 5.0

    box = page.find(v.Sheet, class_="d-flex ma-0 freemium-listeners").widget
    (slider,) = [w for w in box.children if isinstance(w, v.Slider)]
    slider.v_model = 3_000
    _button(page, "Reset").click()
    assert "not started" in _html(page, "freemium-readout")  # a new model, at t = 0
    notes = _html(page, "freemium-settings")
    assert "Live changes: none yet." in notes and "Simulated 3,000 listeners" in notes
    assert _live_slider(page, "ad_load").v_model == 2.5  # the new model's start value


# ---------------------------------------------------------------- every valid scenario starts it


EDGE_SCENARIOS = {
    "weekly steps": {"time.step": "week", "time.months": 3},
    "one month": {"time.months": 1},
    "a family plan only": {"services.focal.plans": {"family": {"price": 14.99}}},
    "no free tier": {"services.focal.free_tier": False},
    "fewer listeners than the network view draws": {"market.agents": 200},
    "mechanisms off": {"diffusion.enabled": False, "mechanisms.campaigns.enabled": False, "mechanisms.ads.enabled": False},
}


@pytest.mark.parametrize("name", list(EDGE_SCENARIOS))
def test_every_valid_scenario_starts_the_dashboard(name):
    """The model, the charts with the ghost, the network view, the texts and the export, at
    the start and after the horizon's first months, for scenarios unlike the baseline."""
    scenario = apply_overrides(app.with_competitor(Scenario()), EDGE_SCENARIOS[name])
    params = app.model_params(scenario)
    m = app.DashboardModel(**{**app.slider_defaults(params), "listeners": LISTENERS})
    charts, network = app.MarketCharts(m), app.NetworkFigure(m)
    for _ in range(min(3, m.n_steps) + 1):  # one step past the horizon's end is refused quietly
        assert all(png.startswith(b"\x89PNG") for png in charts.pngs(ghost=True))
        assert network.png(app.default_listener(m)).startswith(b"\x89PNG")
        app.readout(m), app.run_notes(m), app.run_csv(m)
        m.request("price", app.live_widgets(m)["price"]["max"])
        m.step()
    assert m.t == min(m.n_steps, 4)


# ---------------------------------------------------------------- ghost, export, churn, inspector


def test_the_ghost_is_the_market_without_the_live_changes(base):
    """Same seed, same scenario as the run started: identical until the change, then the plain
    model without it (common random numbers), while the run follows the change."""
    m = _run(app.DashboardModel(base, listeners=LISTENERS), 2)
    plain = _run(MarketModel(app.configure(base, {"listeners": LISTENERS})), 2)
    assert m.ghost.t == 0  # advanced only when drawn
    np.testing.assert_array_equal(m.ghost_now().records["mau"][:2], m.records["mau"][:2])
    m.request("price", 14.99)
    _run(m, 3)
    _run(plain, 3)
    ghost = m.ghost_now()
    assert ghost.t == m.t == 5
    np.testing.assert_array_equal(ghost.records["premium_subscribers"][:5], plain.records["premium_subscribers"][:5])
    # the run follows the change: its subscribers pay the new price (a count of 2,000 listeners may not move in 3 months)
    assert not np.array_equal(m.records["revenue_subscription_eur"][2:5], ghost.records["revenue_subscription_eur"][2:5])
    assert ghost.services[0].policy.plans["individual"].price == base.services.focal.plans["individual"].price


def test_charts_draw_the_ghost_only_when_asked(base):
    m = _run(app.DashboardModel(base, listeners=LISTENERS), 3)
    m.request("ad_load", 8.0)
    _run(m, 3)
    charts = app.MarketCharts(m)
    plain, ghosted = charts.pngs(ghost=False), charts.pngs(ghost=True)
    assert sum(a != b for a, b in zip(plain, ghosted)) >= 5


def test_export_has_every_month_kpi_and_policy_change(base):
    import io

    import pandas as pd

    m = _run(app.DashboardModel(base, listeners=LISTENERS), 2)
    m.request("ad_load", 5.0)
    _run(m, 15)  # to 2016-05: the baseline's entry of 2015-07 and family plan of 2016-05 are in
    table = pd.read_csv(io.StringIO(app.run_csv(m)), keep_default_na=False)
    assert len(table) == 17 * len(m.services) and sorted(set(table["step"])) == list(range(17))
    assert {"mau", "premium_subscribers", "revenue_ads_eur", "churn_premium_monthly", "unaware"} <= set(table.columns)
    changes = dict(zip(table["date"], table["policy_changes"]))
    assert changes["2015-03-01"] == "live: ad load 2.5→5"
    assert changes["2015-07-01"] == "timeline: Apple Music enters"
    assert changes["2016-05-01"].startswith("timeline: services.focal.plans.family=")
    assert changes["2015-01-01"] == ""


def test_rival_churn_is_smoothed_and_hidden_when_too_few_subscribe(base, monkeypatch):
    from sim.app import charts

    m = _run(app.DashboardModel(base, listeners=LISTENERS), 6)
    shown = app.churn_shown(m, m.t)
    raw = 100 * m.records["churn_premium_monthly"][:6]
    np.testing.assert_array_equal(shown[:, 0], raw[:, 0])  # the focal service as simulated
    few = m.records["premium_subscribers"][:6, 1:] / m.weight < charts.MIN_SUBSCRIBERS
    assert few.all() and np.isnan(shown[:, 1:]).all()  # 2,000 listeners: the rivals' few subscribers are noise
    monkeypatch.setattr(charts, "MIN_SUBSCRIBERS", 0)
    shown = app.churn_shown(m, m.t)
    expected = np.stack([raw[t - 2:t + 1, 1:].mean(axis=0) for t in range(2, 6)])  # a 3-month mean
    np.testing.assert_allclose(shown[2:, 1:], expected)
    np.testing.assert_allclose(shown[1, 1:], raw[:2, 1:].mean(axis=0))


def test_the_inspector_starts_with_a_long_standing_subscriber(base):
    m = app.DashboardModel(base, listeners=LISTENERS)
    pop = m.population
    i = pop.slot_of[m.sample.index[app.default_listener(m)]]  # the sample holds ids
    slots = pop.slot_of[m.sample.index]
    assert pop.state[i] == State.USER and pop.service[i] == 0 and pop.tier[i] == Tier.PREMIUM
    premium = (pop.state[slots] == State.USER) & (pop.service[slots] == 0) & (pop.tier[slots] == Tier.PREMIUM)
    assert pop.tenure[i] == pop.tenure[slots][premium].max() > 0


def test_the_play_button_at_the_horizons_end(tmp_path, monkeypatch):
    """Played to the end, ▶ comes back (greyed until Reset) instead of a greyed pause."""
    import time

    import ipyvuetify as v
    import solara

    short = tmp_path / "short.yaml"
    short.write_text("name: short\ntime: {start: 2015-01, months: 3}\nmarket: {agents: 2000}\n")
    monkeypatch.setenv(app.SCENARIO_ENV, str(short))
    app.page_component.cache_clear()

    @solara.component
    def Served():
        with solara.AppLayout():
            app.page_component()()

    try:
        _, rc = solara.render(Served(), handle_error=False)
        _button(rc, "▶").click()
        deadline = time.monotonic() + 30
        while "of 3: the end" not in rc.find(v.Html, class_="freemium-month").widget.children[0] \
                and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.3)  # the play loop's last update
        play = rc.find(v.Btn, children=["▶"]).widget
        assert play.disabled and _button(rc, "Step").disabled
        assert not rc.find(v.Btn, children=["❚❚"]).widgets
        _button(rc, "Reset").click()
        assert not _button(rc, "▶").disabled and "not started" in _html(rc, "freemium-readout")
        rc.close()
    finally:
        app.page_component.cache_clear()
