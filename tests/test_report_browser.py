"""The run report in a real browser: Debian's Chromium driven by playwright, as a reader opens it."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.report import write_report
from tests.test_report import ASSUMPTIONS, SUMMARY, synthetic_cohorts, synthetic_timeseries

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.browser


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")
def test_first_figure_is_visible_without_scrolling_and_assumptions_are_collapsed(tmp_path):
    from playwright.sync_api import sync_playwright

    timeline = [{"at": "2016-05", "set": {"services.focal.plans.family": {"price": 14.99, "seats": 6}},
                 "outage": None, "note": "family plan"}]
    path = write_report(tmp_path, synthetic_timeseries(replicates=2, months=24), synthetic_cohorts(2, 24), SUMMARY,
                        ASSUMPTIONS, timeline, created="2026-11-30 15:00 UTC")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(path.resolve().as_uri())
            box = page.locator("figure img").first.bounding_box()
            assert box is not None and box["width"] > 500
            # at least half of the first figure lies inside the first screen
            visible = min(box["y"] + box["height"], 900) - max(box["y"], 0)
            assert visible >= 0.5 * box["height"], box
            assert page.evaluate("window.scrollY") == 0
            # the assumptions are there but folded away until opened
            assumptions = page.locator("details")
            assert not assumptions.evaluate("d => d.open")
            assert not page.get_by_text("services.focal.plans.family = price: 14.99").is_visible()
            assumptions.locator("summary").click()
            assert page.get_by_text("services.focal.plans.family = price: 14.99, seats: 6").is_visible()
            header = page.locator("p.meta").inner_text()
            assert "Run on 2026-11-30 15:00 UTC" in header and "simulated 2015-01 to 2016-12" in header
        finally:
            browser.close()
