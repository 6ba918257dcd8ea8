"""The teaching dashboard in a real browser: Debian's Chromium driven by playwright.

Starts ``freemium-sim dashboard`` on a free localhost port, steps the model, moves the
ad-load slider, resets and steps again, and checks that what the page shows follows.
"""

from __future__ import annotations

import os
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


def test_dashboard_steps_and_follows_the_ad_load_slider(dashboard, tmp_path):
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
            chart_before = page.locator(".freemium-chart").first.get_attribute("src")

            page.get_by_role("button", name="Step").click()
            first = wait_for_month(page, "January 2015")
            assert page.locator(".freemium-chart").first.get_attribute("src") != chart_before, "the charts did not redraw"
            assert "Ad load 2.5 ad-min/hour" in page.locator(".freemium-settings").inner_text()

            slider = page.locator(".v-input", has=page.get_by_text("Ad load (ad-min/hour)")).get_by_role("slider")
            slider.focus()
            for _ in range(4):  # four steps of 0.5 ad-min/hour
                page.keyboard.press("ArrowRight")
            assert slider.get_attribute("aria-valuenow") == "4.5"

            page.get_by_role("button", name="Reset").click()
            page.wait_for_function("() => document.querySelector('.freemium-readout').innerText.includes('not started')",
                                   timeout=20_000)
            assert "Ad load 4.5 ad-min/hour" in page.locator(".freemium-settings").inner_text()
            page.get_by_role("button", name="Step").click()
            second = wait_for_month(page, "January 2015")
            for _ in range(11):  # a year of data in the screenshot
                page.get_by_role("button", name="Step").click()
            wait_for_month(page, "December 2015")
            page.screenshot(path=str(tmp_path / "dashboard.png"))
        finally:
            browser.close()

    # both runs use the scenario's seed, so only the ad load can tell the two Januaries apart
    assert second != first, f"the KPIs did not follow the ad load: {first!r}"
    assert not failed, f"requests failed (the page must work offline): {failed}"
    server_log = log.read_text()
    assert "Traceback" not in server_log and "Could not load URL" not in server_log, server_log[-3000:]
    assert (tmp_path / "dashboard.png").stat().st_size > 10_000
