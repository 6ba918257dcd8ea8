"""Many-way comparisons that read: a 100-column terminal table of the headline KPIs (or --kpi), one unit and
scale per row with enough digits, one colour per scenario in every figure, time axes that follow --window,
a forest plot of small multiples and a comparison.html within 1400 px at 1280x800 in Chromium.

A real two-scenario comparison (small market) is widened to seven scenarios by repeating its one what-if
under new labels: the display code sees a seven-way comparison without seven runs.
"""

from __future__ import annotations

import copy
import io
import json

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba
from rich.console import Console

from sim.analysis.compare import HEADLINE_KPIS, chosen_kpis, comparison_figures, forest_panels, kpi_rows, write_comparison
from sim.cli import main
from sim.report.display import RowScale
from sim.report.plotting import group_colors
from sim.scenario import ScenarioError, scenario_to_yaml
from tests.browser_helpers import CHROMIUM
from tests.helpers import small_scenario

LABELS = list("ABCDEFG")


@pytest.fixture(scope="module")
def seven(tmp_path_factory):
    """(comparison, paired series) of seven arms, from one small two-arm run over 2015-2016 with a 2016 window."""
    tmp = tmp_path_factory.mktemp("seven")
    path = tmp / "s.yaml"
    path.write_text(scenario_to_yaml(small_scenario({"time.months": 24, "market.agents": 1500})))
    out = tmp / "two"
    assert main(["compare", str(path), "--set", "services.focal.ad_load=5", "--replicates", "3", "--workers", "1",
                 "--window", "2016-01:2016-12", "--quiet", "--out", str(out)]) == 0
    comparison = json.loads((out / "comparison.json").read_text())
    series = pd.read_parquet(out / "paired_timeseries.parquet")
    b = comparison["comparisons"][0]
    comparison["comparisons"] = [dict(copy.deepcopy(b), label=x) for x in LABELS[1:]]
    comparison["regions"] = {x: copy.deepcopy(comparison["regions"]["B"]) for x in LABELS[1:]}
    comparison["arms"] = [{"label": x, "scenario": f"scenario_{x.lower()}_with_a_long_name", "file": str(path)} for x in LABELS]
    b_rows = series[series["scenario"] == "B"]
    series = pd.concat([series[series["scenario"] == "A"], *(b_rows.assign(scenario=x) for x in LABELS[1:])])
    return comparison, series


def test_the_terminal_table_of_seven_scenarios_fits_100_columns(seven):
    from sim.commands.compare import print_comparison

    comparison, _ = seven
    buffer = io.StringIO()
    import sim.commands.compare as command

    real = command.Console
    command.Console = lambda **kw: Console(file=buffer, **{**kw, "width": kw.get("width", 100)})
    try:
        print_comparison(comparison, "out", chosen_kpis(None, ("2016-01", "2016-12")))
    finally:
        command.Console = real
    text = buffer.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 100
    table = text[text.index("KPI, unit"):]
    assert all(f"{x} - A" in table.splitlines()[0] for x in LABELS[1:])  # scenarios as columns
    assert all(k[:22] in table for k in HEADLINE_KPIS)  # the headline KPIs (a long name folds), each with its unit
    assert "M people" in table and "%, X - A in pp" in table and "bn EUR" in table


def test_an_unknown_kpi_is_refused_with_a_hint():
    with pytest.raises(ScenarioError, match="--kpi: unknown KPI 'premium_subscriber'; did you mean 'premium_subscribers'"):
        chosen_kpis(["premium_subscriber"], None)
    assert chosen_kpis(["mau", "mau", "market_share"], None) == ["mau", "market_share"]


def test_a_row_has_one_unit_and_a_significant_share_change_shows_digits():
    share = {"a_mean": 0.31, "diff_mean": -0.00012, "diff_ci95_low": -0.0002, "diff_ci95_high": -0.00005, "significant": True}
    people = {"a_mean": 150e6, "diff_mean": -49.1e6, "diff_ci95_low": -52e6, "diff_ci95_high": -228_715.09, "significant": True}
    comparison = {"comparisons": [{"kpis": {"market_share": share, "premium_subscribers": people}}]}
    (name, unit, a, (diff, ci)), (_, unit_p, a_p, (diff_p, ci_p)) = kpi_rows(comparison, ["market_share", "premium_subscribers"])
    assert (unit, a, diff, ci) == ("%, X - A in pp", "31.0000", "−0.0120*", "−0.0200 .. −0.0050")
    assert (unit_p, a_p, diff_p, ci_p) == ("M people", "150.00", "−49.10*", "−52.00 .. −0.23")  # one scale: M
    assert RowScale.of("premium_subscribers", [150e3], [-4e3]).value(-4e3, signed=True) == "−4,000"


def test_each_scenario_has_one_colour_in_every_figure_and_the_axes_follow_the_window(seven, tmp_path, monkeypatch):
    import sim.analysis.compare as compare

    comparison, series = seven
    drawn = {}

    def keep(fig, fig_dir, name, title, caption):
        drawn[name] = fig
        return compare.FigureFile(name, tmp_path / f"{name}.png", title, caption)

    monkeypatch.setattr(compare, "save_figure", keep)
    comparison_figures(tmp_path, series[series["focal"]], comparison, list(HEADLINE_KPIS))
    colors = group_colors(LABELS)
    for name in ("paired_users", "paired_revenue", "difference_over_time"):
        ax = drawn[name].axes[0]
        for line in ax.get_lines():
            label = line.get_label()[0]  # "B: scenario_b..." or "B - A"
            assert line.get_color() == colors[label], (name, line.get_label())
        start, end = (pd.to_datetime(v, unit="D") for v in ax.get_xlim())
        assert pd.Timestamp("2015-09-01") <= start <= pd.Timestamp("2015-10-01") and end == pd.Timestamp("2016-12-01")
        assert drawn[name]._suptitle.get_text() in ("Users", "Revenue and churn", "Difference over time (paired replicates)")
    forest = drawn["forest"]
    panels = [ax for ax in forest.axes if ax.get_visible()]
    assert len(panels) == len(HEADLINE_KPIS) <= 12  # small multiples, one per KPI, each with its own scale
    assert len({ax.get_xlim() for ax in panels}) > 1
    points = panels[0].collections[-1]
    np.testing.assert_allclose(points.get_edgecolors(), [to_rgba(colors[x]) for x in LABELS[1:]])


def test_forest_panels_use_each_kpi_unit(seven):
    comparison, _ = seven
    fig = forest_panels(comparison, ["mau", "market_share", "cumulative_revenue_total_eur"], group_colors(LABELS))
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert titles[0].endswith("people)") and titles[1].endswith("pp)") and "EUR" in titles[2]


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")
def test_comparison_html_of_seven_scenarios_fits_1400_px(seven, tmp_path):
    from playwright.sync_api import sync_playwright

    comparison, series = seven
    write_comparison(tmp_path / "c", comparison, series)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto((tmp_path / "c" / "comparison.html").as_uri())
        width = page.evaluate("document.documentElement.scrollWidth")
        images = page.evaluate("[...document.images].map(i => i.naturalWidth)")
        browser.close()
    assert width <= 1400
    assert images and max(images) <= 1000
