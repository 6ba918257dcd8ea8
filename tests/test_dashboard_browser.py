"""The teaching dashboard in a real browser: Debian's Chromium driven by playwright.

Starts ``freemium-sim dashboard`` on a free localhost port, steps the model, moves the
live ad-load control, steps on, and checks that the running market took the change (the
same figures as the model with that change, not those without it) and was not reset.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.browser


def free_port() -> int:
    """A localhost port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_server(url: str, proc: subprocess.Popen, log: Path, timeout_s: float = 60.0) -> None:
    """Return once ``url`` answers 200; fail with the server's log if it dies or never answers."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"dashboard server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"dashboard server did not answer {url} within {timeout_s:.0f} s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def dashboard(tmp_path):
    """A dashboard server as a teacher starts it (default scenario and sliders); yields (url, log path)."""
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "sim.cli", "dashboard", "--port", str(port)],
                                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ))
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for_server(url, proc, log)
        yield url, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


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


def test_dashboard_moves_the_ad_load_live(dashboard, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip("Debian's Chromium is not installed (/usr/bin/chromium); CI installs it with apt")
    from playwright.sync_api import sync_playwright

    url, log = dashboard
    failed: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})  # a projector
            page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            page.goto(url)
            page.wait_for_selector(".freemium-readout", timeout=30_000)
            assert "not started" in readout(page)

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
            page.screenshot(path=str(tmp_path / "dashboard.png"))
        finally:
            browser.close()

    # the page's market went on from March with the new ad load: the very figures of the
    # model given that change in April, not those of the unchanged market or of a restart
    with_change, without = expected_readouts(12, change_at=3, ad_load=5.0)
    assert december == as_text(with_change), f"expected {as_text(with_change)!r}"
    assert december != as_text(without)
    assert not failed, f"requests failed (the page must work offline): {failed}"
    server_log = log.read_text()
    assert "Traceback" not in server_log and "Could not load URL" not in server_log, server_log[-3000:]
    assert (tmp_path / "dashboard.png").stat().st_size > 10_000
