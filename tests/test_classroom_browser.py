"""The classroom game in a real browser: one teacher and two students on localhost.

Starts ``freemium-sim classroom`` as a teacher does; two students join from phone-sized
pages and set different prices; a third is refused a taken and an empty name; the teacher
plays a round; the leaderboard shows both teams with different figures; a student reloads
and keeps the service. Nothing is asked of the internet (page or server). Screenshots
are saved in the test's temporary folder.
"""

from __future__ import annotations

import re
from contextlib import contextmanager

import pytest

from tests.browser_helpers import RecordingProxy, launch, outside, proxy_env, serve

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}
TEACHER = {"width": 1280, "height": 800}


@pytest.fixture
def classroom(tmp_path):
    """A classroom server (small market, rounds of 3 months); yields (base url, teacher key, log, proxy)."""
    proxy = RecordingProxy()
    log = tmp_path / "server.log"
    try:
        with serve(["classroom", "--listeners", "2000", "--round-months", "3"], log, proxy_env(proxy), "/join") as base:
            key = re.search(r"\?teacher=(\S+)", log.read_text()).group(1)
            yield base, key, log, proxy
    finally:
        proxy.shutdown()


@contextmanager
def browser_pages(tmp_path):
    """Debian's Chromium; yields ``open_page(viewport)``, which opens a page in a context of its own
    (a browser of its own, with its own cookies). A failure saves a screenshot of every page opened."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        pages = []

        def open_page(viewport: dict):
            page = browser.new_context(viewport=viewport).new_page()
            pages.append(page)
            return page

        try:
            yield open_page
        except Exception:
            for k, page in enumerate(pages):
                page.screenshot(path=str(tmp_path / f"failure-{k}.png"), full_page=True)
            raise
        finally:
            browser.close()


def join(page, base: str, name: str) -> None:
    page.goto(base + "/join")
    page.locator(".classroom-name input").fill(name)
    page.locator(".classroom-join-button").click()


def set_price(page, presses: int) -> str:
    """Move the price slider ``presses`` steps (negative: down), one step at a time as the page
    confirms each (a busy server redraws the slider with the value it holds); returns the price shown."""
    slider = page.locator(".classroom-price").get_by_role("slider")
    for k in range(1, abs(presses) + 1):
        slider.focus()
        page.keyboard.press("ArrowRight" if presses > 0 else "ArrowLeft")
        expected = f"{9.99 + 0.5 * k * (1 if presses > 0 else -1):g}"
        page.wait_for_function("p => document.querySelector('.classroom-price').innerText.includes(': ' + p)",
                               arg=expected, timeout=30_000)
    return expected


def test_two_teams_play_a_round(classroom, tmp_path):

    base, key, log, proxy = classroom
    left: list[str] = []
    with browser_pages(tmp_path) as open_page:
        teacher = open_page(TEACHER)
        reds, blues, late = (open_page(PHONE) for _ in range(3))
        pages = [teacher, reds, blues, late]
        for page in pages:
            page.on("request", lambda r: left.append(r.url) if outside(r.url) else None)
        teacher.goto(f"{base}/?teacher={key}")
        teacher.wait_for_selector(".classroom-play", timeout=60_000)
        assert f"{base.split('//')[1]}/join" in teacher.locator(".classroom-join").inner_text()
        assert teacher.locator("svg.segno").count() == 1  # the QR code, drawn by the server

        join(reds, base, "Reds")
        join(blues, base, "Blues")
        for page, name in ((reds, "Reds"), (blues, "Blues")):
            page.wait_for_selector(".classroom-team", timeout=20_000)
            assert page.locator(".classroom-team").inner_text() == f"Team {name}"
            page.wait_for_function("location.href.includes('team=')", timeout=30_000)  # the URL keeps the team
        join(late, base, "  reds ")
        late.wait_for_selector(".classroom-error", timeout=10_000)
        assert "taken" in late.locator(".classroom-error").inner_text()
        late.locator(".classroom-name input").fill("")
        late.locator(".classroom-join-button").click()
        late.wait_for_function("() => document.querySelector('.classroom-error').innerText.includes('Enter a team')",
                               timeout=10_000)

        red_price, blue_price = set_price(reds, -10), set_price(blues, 6)  # 4.99 and 12.99 EUR/month
        teacher.wait_for_function("""() => ['Reds', 'Blues'].every(
            t => document.querySelector(`.classroom-leaderboard tr[data-team='${t}']`))""", timeout=10_000)
        shares_before = teacher.locator("img.classroom-shares, .classroom-shares img").first.get_attribute("src")
        teacher.locator(".classroom-play").click()
        teacher.wait_for_function(
            "() => { const e = document.querySelector('.classroom-status');"
            " return e && e.innerText.includes('1 round(s) played'); }",
            timeout=60_000)
        teacher.wait_for_function(  # the status and each team's row re-render separately: wait for both rows
            """() => ['Reds', 'Blues'].every(t => {
                 const row = document.querySelector(`.classroom-leaderboard tr[data-team='${t}']`);
                 return row && !row.innerText.includes('enters the market'); })""", timeout=20_000)
        rows = {t: teacher.locator(f".classroom-leaderboard tr[data-team='{t}']").inner_text() for t in ("Reds", "Blues")}
        figures = {t: re.findall(r"-?[\d,]+\.\d", row) for t, row in rows.items()}
        assert len(figures["Reds"]) == len(figures["Blues"]) == 6, rows  # users .. profit
        assert figures["Reds"] != figures["Blues"], rows
        teacher.wait_for_function(  # the chart travels on its own: wait for the round's
            "s => { const e = document.querySelector('img.classroom-shares, .classroom-shares img');"
            " return e && e.getAttribute('src') != s; }", arg=shares_before, timeout=20_000)
        teacher.wait_for_timeout(1_000)  # and its last month
        teacher.screenshot(path=str(tmp_path / "classroom-teacher.png"), full_page=True)
        assert reds.url.split("/join")[1] in teacher.locator(".classroom-rejoin").inner_html()

        reds.wait_for_selector(".classroom-figures", timeout=10_000)  # the student's page follows the round
        reds.reload()
        reds.wait_for_selector(".classroom-team", timeout=20_000)
        assert reds.locator(".classroom-team").inner_text() == "Team Reds"
        assert f": {red_price}" in reds.locator(".classroom-price").inner_text()
        assert "Rank" in reds.locator(".classroom-figures").inner_text()
        # fits a phone once the reloaded page has settled (a loading page may be wide for a moment)
        reds.wait_for_function("w => document.documentElement.scrollWidth <= w", arg=PHONE["width"], timeout=15_000)
        reds.screenshot(path=str(tmp_path / "classroom-student.png"), full_page=True)
        reds.close()  # the tab closed; the join link opened again in that browser leads back to the team
        reds = reds.context.new_page()
        reds.goto(base + "/join")
        reds.wait_for_selector(".classroom-team", timeout=20_000)
        assert reds.locator(".classroom-team").inner_text() == "Team Reds"
        assert f": {blue_price}" in blues.locator(".classroom-price").inner_text()

        # save the game and the summary, then end it
        for link, name in ((".classroom-save-link", "game.json"), (".classroom-summary-link", "summary.csv")):
            with teacher.expect_download(timeout=20_000) as download:
                teacher.locator(link).click()
            download.value.save_as(tmp_path / name)
        teacher.locator(".classroom-end").click()
        teacher.wait_for_function(
            "() => { const e = document.querySelector('.classroom-status');"
            " return e && e.innerText.includes('The game is over'); }", timeout=10_000)
        teacher.locator(".classroom-summary").click()  # the summary page, for the projector: this browser is the teacher's
        teacher.wait_for_selector(".classroom-leaderboard tr[data-team='Blues']", timeout=20_000)
        assert "Summary" in teacher.locator("h2").first.inner_text()

    # the saved game resumes to the same market; the summary has both teams' months
    from sim.classroom.game import Game

    resumed = Game.from_json((tmp_path / "game.json").read_text(), "game.json")
    assert [t.name for t in resumed.teams.values()] == ["Reds", "Blues"] and resumed.model.t == 3
    summary = (tmp_path / "summary.csv").read_text().splitlines()
    assert summary[0].startswith("date,round,service,team,mau")
    assert sum(",Reds," in line for line in summary) == sum(",Blues," in line for line in summary) == 3
    assert not left, f"a page asked outside this machine: {left}"
    assert not proxy.requests, f"the server asked outside this machine: {proxy.requests}"
    server_log = log.read_text()
    for noise in ("Traceback", "New version", "Warning"):
        assert noise not in server_log, server_log[-3000:]


HOSTILE = ("<iframe onload=alert(1)>", "$\\undefinedcmd$", "W" * 24, "فريق الصقور", "🎧🔥 Beats")


def status(url: str) -> int:
    """The HTTP status of a GET of ``url``."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def websocket_status(base: str, origin: str) -> int:
    """The HTTP status that answers a websocket handshake to the page's kernel address sent with ``origin``."""
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    url = base.replace("http://", "ws://") + "/jupyter/api/kernels/x/channels?session_id=y"
    try:
        with connect(url, origin=origin, open_timeout=10):
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code


def test_a_hostile_class_and_a_keyless_visitor(classroom, tmp_path):
    """Script, mathtext, very long, right-to-left and emoji team names are text on every page (no
    dialog opens, the market is drawn); a visitor without the key sees no token, no summary,
    no internals; a page of another site cannot open the websocket."""

    base, key, log, proxy = classroom
    dialogs: list[str] = []
    with browser_pages(tmp_path) as open_page:
        teacher = open_page(TEACHER)
        students = [open_page(PHONE) for _ in HOSTILE]
        visitor = open_page(TEACHER)
        pages = [teacher, *students, visitor]
        for page in pages:
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        teacher.goto(f"{base}/?teacher={key}")
        teacher.wait_for_selector(".classroom-play", timeout=60_000)
        teacher.wait_for_function("() => !location.href.includes('teacher=')", timeout=20_000)  # off the projector
        for page, name in zip(students, HOSTILE, strict=True):
            join(page, base, name)
            page.wait_for_selector(".classroom-team", timeout=20_000)
            assert page.locator(".classroom-team").inner_text() == f"Team {name}"
            assert page.locator(".classroom-team iframe").count() == 0
            page.wait_for_function("location.href.includes('team=')", timeout=30_000)  # the URL keeps the team
        teacher.wait_for_function("n => document.querySelectorAll('.classroom-leaderboard tr[data-team]').length == n",
                                  arg=len(HOSTILE), timeout=10_000)
        teacher.locator(".classroom-play").click()
        teacher.wait_for_function("() => document.querySelector('.classroom-status').innerText.includes('1 round(s)')",
                                  timeout=60_000)
        teacher.wait_for_timeout(1_500)  # the last month's chart
        text = teacher.locator("body").inner_text()
        assert "Exception" not in text and "Traceback" not in text, text[:2000]
        for name in HOSTILE:
            assert name in teacher.locator(".classroom-leaderboard").inner_text()
        assert teacher.locator("iframe").count() == 0
        assert teacher.locator(".classroom-rejoin a[rel='noreferrer']").count() == len(HOSTILE)
        students[2].wait_for_selector(".classroom-team-chart", timeout=20_000)  # the longest name's own chart
        students[2].wait_for_function("w => document.documentElement.scrollWidth <= w", arg=PHONE["width"],
                                      timeout=15_000)
        teacher.screenshot(path=str(tmp_path / "hostile-teacher.png"), full_page=True)
        students[2].screenshot(path=str(tmp_path / "hostile-student.png"), full_page=True)

        # a visitor without the key: the projector's view, no token anywhere, no summary
        tokens = [re.search(r"team=([\w-]+)", s.url).group(1) for s in students]
        visitor.goto(base + "/")
        visitor.wait_for_selector(".classroom-leaderboard tr[data-team]", timeout=60_000)
        assert visitor.locator(".classroom-play, .classroom-rejoin, .classroom-save-link").count() == 0
        visitor.goto(base + "/summary")
        visitor.wait_for_selector(".classroom-error", timeout=20_000)
        assert visitor.locator(".classroom-leaderboard, .classroom-save-link").count() == 0
        visitor.goto(f"{base}/summary?teacher={key[:-1]}")  # a key almost right is no key
        visitor.wait_for_selector(".classroom-error", timeout=20_000)
        visitor.goto(base + "/join?team=" + tokens[0][:-1] + "x")  # a token guessed is no team
        visitor.wait_for_selector(".classroom-name", timeout=20_000)
        assert visitor.locator(".classroom-team").count() == 0
        for token in tokens:
            assert token not in visitor.content()
    assert not dialogs, f"a name ran script: {dialogs}"
    for internal in ("/readyz", "/resourcez"):
        assert status(base + internal) == 404
        assert status(f"{base}{internal}?teacher={key}") == 200
    assert websocket_status(base, "http://evil.example") == 403
    assert websocket_status(base, base) == 101  # the page's own origin is let in
    server_log = log.read_text()
    assert "Traceback" not in server_log and "Warning" not in server_log, server_log[-3000:]


@pytest.mark.slow
def test_fifteen_teams_play_two_rounds(classroom, tmp_path):
    """A class of thirty in pairs: fifteen teams join from fifteen browsers, the teacher plays
    two rounds, every team is on the leaderboard with its figures and sees its own chart."""

    base, key, log, proxy = classroom
    names = [f"Team {k + 1:02d}" for k in range(15)]
    with browser_pages(tmp_path) as open_page:
        teacher = open_page(TEACHER)
        teacher.goto(f"{base}/?teacher={key}")
        teacher.wait_for_selector(".classroom-play", timeout=60_000)
        students = []
        for name in names:
            students.append(open_page(PHONE))
            join(students[-1], base, name)
            students[-1].wait_for_selector(".classroom-team", timeout=30_000)
        set_price(students[0], -10)  # the first team cheap, the last dear: their figures differ
        set_price(students[-1], 6)
        teacher.wait_for_function("n => document.querySelectorAll('.classroom-leaderboard tr[data-team]').length == n",
                                  arg=len(names), timeout=30_000)
        assert "15 of 16 teams joined" in teacher.locator("body").inner_text()
        for played in (1, 2):
            teacher.locator(".classroom-play").click()
            teacher.wait_for_function(
                "n => document.querySelector('.classroom-status').innerText.includes(n + ' round(s) played')",
                arg=played, timeout=90_000)
        teacher.wait_for_timeout(2_000)  # the last month's chart
        rows = [teacher.locator(f".classroom-leaderboard tr[data-team='{n}']").inner_text() for n in names]
        assert all(len(re.findall(r"-?[\d,]+\.\d", row)) == 6 for row in rows), rows
        assert len(set(rows)) > 1, rows
        teacher.screenshot(path=str(tmp_path / "fifteen-teacher.png"), full_page=True)
        last = students[-1]
        last.wait_for_selector(".classroom-team-chart", timeout=30_000)
        last.wait_for_function("() => document.querySelector('.classroom-status').innerText.includes('2 round(s) played')",
                               timeout=30_000)  # every page follows the game (each looks for news every 0.4 s)
        last.wait_for_function("w => document.documentElement.scrollWidth <= w", arg=PHONE["width"], timeout=15_000)
        last.screenshot(path=str(tmp_path / "fifteen-student.png"), full_page=True)
    server_log = log.read_text()
    assert "Traceback" not in server_log, server_log[-3000:]
