"""The teaching dashboard in a real browser: Debian's Chromium driven by playwright.

Starts ``freemium-sim dashboard`` on a free localhost port, steps the model, moves the
live ad-load control, steps on, and checks that the running market took the change (the
same figures as the model with that change, not those without it) and was not reset;
that the ghost (the unchanged market) is drawn and can be switched off; that the run
downloads as CSV; and that neither the page nor the server asks anything of the internet
(the server's outside requests go to a recording loopback proxy). Screenshots at
1280x800 and 1920x1080 are saved in the test's temporary folder.
"""

from __future__ import annotations

import csv
import re

import pytest

from tests.browser_helpers import RecordingProxy, launch, outside, proxy_env, serve

pytestmark = pytest.mark.browser


@pytest.fixture
def dashboard(tmp_path):
    """A dashboard server as a teacher starts it (default scenario and sliders), every outside
    request of it sent to a recording proxy; yields (url, log path, proxy)."""
    proxy = RecordingProxy()
    log = tmp_path / "server.log"
    try:
        with serve(["dashboard"], log, proxy_env(proxy)) as base:
            yield base + "/", log, proxy
    finally:
        proxy.shutdown()


def readout(page) -> str:
    return page.locator(".freemium-readout").inner_text()


def wait_for_month(page, month: str) -> str:
    """Wait until the KPI readout names ``month`` (e.g. 'January 2015' with a KPI after it)."""
    page.wait_for_function(
        "m => { const e = document.querySelector('.freemium-readout'); return e && e.innerText.includes(m + ' ·'); }",
        arg=month, timeout=20_000)
    return readout(page)


def step(page, months: int = 1) -> None:
    for _ in range(months):
        page.get_by_role("button", name="Step").click()


def expected_readouts(months: int, change_at: int, ad_load: float) -> tuple[str, str]:
    """The KPI line after ``months`` months as the page must show it with ``ad_load`` set live
    before month ``change_at`` (0-based), and without that change: the page's first model
    (same scenario, seed and listeners)."""
    from sim import app

    def run(live: bool) -> str:
        model = app.DashboardModel(**app.slider_defaults(app.model_params(app.load_dashboard_scenario())))
        for t in range(months):
            if live and t == change_at:
                model.request("ad_load", ad_load)
            model.step()
        return app.readout(model)

    return run(True), run(False)


def as_text(readout_html: str) -> str:
    """The KPI line's HTML as the browser shows its text."""
    return re.sub("<[^>]+>", "", readout_html)


def chart_sources(page) -> list[str]:
    return [e.get_attribute("src") for e in page.locator(".freemium-chart img, img.freemium-chart").all()]


def test_dashboard_moves_the_ad_load_live(dashboard, tmp_path):
    from playwright.sync_api import sync_playwright

    url, log, proxy = dashboard
    failed: list[str] = []
    left: list[str] = []
    with sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})  # a projector
            page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            page.on("request", lambda r: left.append(r.url) if outside(r.url) else None)
            page.goto(url)
            page.wait_for_selector(".freemium-readout", timeout=30_000)
            assert "not started" in readout(page)
            assert "runs on" not in page.inner_text("body")  # solara's badge lay over the inspector

            step(page, 3)
            wait_for_month(page, "March 2015")
            notes = page.locator(".freemium-settings")
            assert "Live changes: none yet." in notes.inner_text()
            chart_before = page.locator(".freemium-chart").first.get_attribute("src")

            control = page.locator(".freemium-live-ad_load")
            control.get_by_role("slider").focus()
            for _ in range(5):  # five steps of 0.5 ad-min/hour: 2.5 -> 5
                page.keyboard.press("ArrowRight")
            page.wait_for_function(  # each widget's update travels on its own: wait for both
                """() => document.querySelector('.freemium-settings').innerText.includes('ad load 2.5→5.')
                         && document.querySelector('.freemium-live-ad_load').innerText.includes(': 5')""",
                timeout=10_000)
            assert "Next month (Apr 2015): ad load 2.5→5." in notes.inner_text()
            assert "Ad load (ad-min/hour): 5" in control.inner_text()

            step(page, 9)  # on to December: the change shows in the charts
            december = wait_for_month(page, "December 2015")
            assert "Live changes: Apr 2015 ad load 2.5→5." in notes.inner_text()
            assert page.locator(".freemium-chart").first.get_attribute("src") != chart_before

            # the ghost: drawn (and named in the key) while on; switched off, the charts change
            legend = page.locator(".freemium-legend")
            assert "Ghost:" in legend.inner_text()
            with_ghost = chart_sources(page)
            page.locator(".freemium-ghost input").click()
            page.wait_for_function("() => !document.querySelector('.freemium-legend').innerText.includes('Ghost:')",
                                   timeout=10_000)
            page.wait_for_function("s => document.querySelector('.freemium-chart').getAttribute('src') != s",
                                   arg=with_ghost[0], timeout=10_000)
            assert sum(a != b for a, b in zip(with_ghost, chart_sources(page))) >= 5  # the revenue may not differ visibly
            page.locator(".freemium-ghost input").click()
            page.wait_for_function("() => document.querySelector('.freemium-legend').innerText.includes('Ghost:')",
                                   timeout=10_000)

            # the class's run, downloaded
            page.locator(".freemium-export").click()
            with page.expect_download(timeout=20_000) as download:
                page.locator(".freemium-download").click()
            saved = tmp_path / "run.csv"
            download.value.save_as(saved)

            page.screenshot(path=str(tmp_path / "dashboard-1280x800.png"))
            page.locator(".freemium-listener").scroll_into_view_if_needed()  # the main area scrolls, not the page
            page.screenshot(path=str(tmp_path / "dashboard-1280x800-network.png"))
            tenure = re.search(r"with this service for\s+(\d+) months", page.locator(".freemium-listener").inner_text())
            # the inspector shows the listener's tenure (the pick, a long-standing focal subscriber at the start, is
            # tested in test_app.py; whether that one listener is still subscribed in December is the simulation's)
            assert tenure
            page.set_viewport_size({"width": 1920, "height": 1080})
            page.wait_for_timeout(500)
            page.screenshot(path=str(tmp_path / "dashboard-1920x1080.png"))
        except Exception:
            page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)  # what the page showed
            raise
        finally:
            browser.close()

    # the page's market went on from March with the new ad load: the very figures of the
    # model given that change in April, not those of the unchanged market or of a restart
    with_change, without = expected_readouts(12, change_at=3, ad_load=5.0)
    assert december == as_text(with_change), f"expected {as_text(with_change)!r}"
    assert december != as_text(without)

    with saved.open(newline="") as f:
        rows = list(csv.DictReader(f))
    for column in ("date", "step", "service", "mau", "premium_subscribers", "revenue_subscription_eur",
                   "revenue_ads_eur", "churn_premium_monthly", "market_share", "aware", "policy_changes"):
        assert column in rows[0], f"{column} missing from the exported CSV"
    assert {r["step"] for r in rows} == {str(k) for k in range(12)}  # every month played
    april = {r["policy_changes"] for r in rows if r["date"] == "2015-04-01"}
    assert april == {"live: ad load 2.5→5"}

    assert not failed, f"requests failed (the page must work offline): {failed}"
    assert not left, f"the page asked outside this machine: {left}"
    assert not proxy.requests, f"the server asked outside this machine: {proxy.requests}"
    server_log = log.read_text()
    for noise in ("Traceback", "Could not load URL", "New version", "rules of hooks", "Warning"):
        assert noise not in server_log, server_log[-3000:]
    for size in ("1280x800", "1920x1080"):
        assert (tmp_path / f"dashboard-{size}.png").stat().st_size > 10_000
