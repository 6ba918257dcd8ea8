"""The teaching dashboard's wiring: sliders -> scenario -> model, reset, the agent view, the page."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from sim import app
from sim.agents.listeners import State
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
    assert m.weight == base.market.population / LISTENERS  # reported figures stay in real people


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
    assert set(params) == {"scenario", *app.CONTROL_BY_NAME}
    for c in app.CONTROLS:
        w, info = params[c.name], table[c.path.format(**names)]
        if w["type"] in ("SliderFloat", "SliderInt"):
            assert info.unit in w["label"]
            low = c.limits[0] if c.limits else info.low
            high = c.limits[1] if c.limits else info.high
            assert low / c.scale <= w["min"] <= w["value"] <= w["max"] <= high / c.scale + c.step
            steps = (w["value"] - w["min"]) / w["step"]
            assert steps == pytest.approx(round(steps)), f"{c.name}: the value is off the slider's grid"
    assert params["ad_load"]["value"] == base.services.focal.ad_load
    assert params["price"]["value"] == base.services.focal.plans["individual"].price
    assert params["competitor_strategy"]["values"] == ["static", "match_price", "defend_share"]
    assert app.LISTENER_LIMITS[0] <= params["listeners"]["value"] <= app.DEFAULT_LISTENERS


def test_slider_defaults_rebuild_the_base_policy(base, params):
    settings = app.slider_defaults(params)
    assert settings.pop("scenario") is base
    m = app.DashboardModel(base, **{**settings, "listeners": LISTENERS})
    assert m.services[0].policy == base.services.focal
    assert [s.policy for s in m.services[1:]] == base.services.competitors


def test_a_competitor_is_added_when_the_scenario_has_none():
    scenario = app.with_competitor(Scenario())
    assert [c.name for c in scenario.services.competitors] == [app.DEFAULT_COMPETITOR["name"]]
    assert scenario.services.competitors[0].free_tier is False
    assert app.with_competitor(scenario) is scenario
    assert "competitor_price" in app.model_params(scenario)


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
    users = m.population.state[s.index] == State.USER
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


def test_readout_and_settings_text(base):
    m = app.DashboardModel(base, listeners=LISTENERS, ad_load=4.5)
    assert "not started" in app.readout(m)
    m.step()
    assert app.readout(m).startswith(f"<b>{m.dates[0]:%B %Y}</b> · ")
    settings = app.run_settings(m)
    assert "Ad load 4.5 ad-min/hour" in settings and f"Simulated {LISTENERS:,} listeners" in settings


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
    env = app.server_env(tmp_path / "x.yaml")
    assert env[app.SCENARIO_ENV] == str((tmp_path / "x.yaml").resolve())


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


def test_page_steps_and_reset_rebuilds_with_the_sliders(page):
    import ipyvuetify as v

    assert "not started" in _html(page, "freemium-readout")
    _button(page, "Step").click()
    assert "January 2015" in _html(page, "freemium-readout")

    ad_label = app.model_params(app.load_dashboard_scenario())["ad_load"]["label"]
    page.find(v.Slider, label=ad_label).widget.v_model = 4.5  # as the browser sets it
    assert "Ad load 2.5" in _html(page, "freemium-settings")  # not before reset
    _button(page, "Reset").click()
    assert "not started" in _html(page, "freemium-readout")  # a new model, at t = 0
    assert "Ad load 4.5 ad-min/hour" in _html(page, "freemium-settings")
