"""The classroom game's Solara pages: the teacher's (``/``), a student's (``/join``), the summary (``/summary``).

``freemium-sim classroom`` runs ``solara run sim.classroom.page`` (behind :mod:`sim.classroom.guard`)
with the game's settings in ``$FREEMIUM_SIM_CLASSROOM`` (JSON: scenario path, listeners, months per round, a saved
game to resume, the teacher's key, the join address). Every browser tab is its own Solara
session in the one server process; they share one :class:`Game`, and each page redraws
when the game's ``version`` changes (a watcher thread per page, see :func:`use_game_version`).

A student's page keeps the team's secret token in its address (``/join?team=...``): a
reload, or the address opened again, shows the same service; the join link opened again
in the same browser does too (solara's session cookie remembers the team). The teacher's controls,
the saved game (it holds every team's token) and ``/summary`` need the teacher's key
(``?teacher=...``, printed by the command; the browser that opened it stays the teacher's, and the
key leaves its address bar); without it ``/`` is the market as the class sees
it on the projector. Whatever a player typed is shown as text (escaped, in ``<bdi>``), never
as markup. The server in front of these pages (:mod:`sim.classroom.guard`) refuses websockets
from other sites and hides solara's internals.
"""

from __future__ import annotations

import html
import json
import os
import secrets
import threading
import warnings
from typing import Any
from urllib.parse import parse_qs

import solara

from sim.app.controls import DEFAULT_LISTENERS, load_dashboard_scenario
from sim.app.export import download_link
from sim.classroom.game import Decisions, Game, GameError
from sim.classroom.views import leaderboard_html, qr_svg, share_svg, team_svg

ENV = "FREEMIUM_SIM_CLASSROOM"
BUTTON_STYLE = ("display:inline-block; margin:4px 6px 4px 0; padding:6px 14px; border:1px solid #1971c2; "
                "border-radius:4px; color:#1971c2; font-size:15px; text-decoration:none")
# The browser draws the SVGs' text, emoji included (views.svg_img): matplotlib's missing-glyph warning
# means nothing in this server, and svg_img's catch_warnings is undone by any other thread's (pandas').
warnings.filterwarnings("ignore", "Glyph .* missing from font", UserWarning)
POLL_S = 0.4  # how often a page looks for news in the game: a round's month shows within this
CSS = """
.classroom-table { border-collapse: collapse; font-size: 17px; }
.classroom-table th, .classroom-table td { padding: 4px 10px; text-align: right; border-bottom: 1px solid #dee2e6; }
.classroom-table th:nth-child(2), .classroom-table td:nth-child(2) { text-align: left; }
.classroom-student { max-width: 460px; margin: 0 auto; padding: 8px 12px; font-size: 17px; }
.classroom-student .v-slider { margin-top: 0; }
.classroom-team, .classroom-table td { overflow-wrap: anywhere; }
"""

_game: Game | None = None
_teachers: set[str] = set()  # browser sessions (solara's cookie) that opened a page with the teacher's key
_game_lock = threading.Lock()


def settings() -> dict[str, Any]:
    """The game's settings handed over by the command (defaults when run by hand)."""
    return json.loads(os.environ.get(ENV) or "{}")


def shared_game() -> Game:
    """The server's one game: resumed from the saved file, or a new one, built on first use."""
    global _game
    with _game_lock:
        if _game is None:
            s = settings()
            if s.get("resume"):
                with open(s["resume"], encoding="utf-8") as f:
                    _game = Game.from_json(f.read(), s["resume"])
            else:
                _game = Game(load_dashboard_scenario(s.get("scenario")), int(s.get("listeners", DEFAULT_LISTENERS)),
                             int(s.get("round_months", 12)), s.get("teams"), bool(s.get("individuals")))
        return _game


def use_game_version(game: Game) -> int:
    """Redraw the calling component whenever the game changes (also by other sessions)."""
    version, set_version = solara.use_state(game.version)

    def watch(cancel: threading.Event) -> None:
        seen = game.version
        while not cancel.wait(POLL_S):
            if game.version != seen:
                seen = game.version
                set_version(seen)

    solara.use_thread(watch, dependencies=[game], intrusive_cancel=False)
    return version


def query(name: str) -> str:
    """The value of ``name`` in the page's address (``?name=value``), or ''."""
    router = solara.use_router()
    return parse_qs(router.search or "").get(name, [""])[0]


def is_teacher() -> bool:
    """Whether this browser is the teacher's: the page's address carries the teacher's key, or a
    page of this browser did (solara's session cookie). Then the key leaves the address bar,
    where a projector would show it to the class. A hook: call it on every render."""
    key, given = settings().get("key") or "", query("teacher")
    router = solara.use_router()
    session = solara.get_session_id()
    if key and given and secrets.compare_digest(given.encode(), key.encode()):
        _teachers.add(session)
    teacher = bool(key) and session in _teachers

    def hide_key() -> None:
        if given and teacher:
            router.push(router.path)

    solara.use_effect(hide_key, [given, teacher])
    return teacher


def refusal(text: str) -> None:
    """A refused request's message, red on pink (solara.Error fails under Vuetify 3)."""
    solara.HTML(tag="div", unsafe_innerHTML=html.escape(text), classes=["classroom-error"],
                style="color: #c92a2a; background: #fff5f5; border: 1px solid #ffa8a8; padding: 8px; font-size: 17px")


def status_line(game: Game) -> str:
    played, months = len(game.rounds), game.months_per_round
    date = f"{game.model.dates[game.model.t - 1]:%B %Y}" if game.model.t else "not started"
    if game.running:
        return f"Round {played} is running ({date}): decisions are locked."
    if game.finished:
        return f"The game is over ({date})."
    return f"{played} round(s) played ({date}). Next: round {played + 1}, {min(months, game.months_left)} months."


@solara.component
def Market(game: Game):
    """The shared market: leaderboard and market shares, as the projector shows them."""
    version = use_game_version(game)
    chart = solara.use_memo(lambda: share_svg(game), [version])
    board = solara.use_memo(lambda: leaderboard_html(game), [version])
    solara.HTML(tag="div", unsafe_innerHTML=status_line(game), classes=["classroom-status"],
                style="font-size: 20px; margin: 8px 0")
    solara.HTML(tag="div", unsafe_innerHTML=board, classes=["classroom-leaderboard"])
    solara.HTML(tag="div", unsafe_innerHTML=chart)


@solara.component
def Exports(game: Game):
    """Downloads, one click each, between rounds: the game (to resume it) and its month-by-month
    summary, as the game stands (solara's FileDownload does not render under Vuetify 3: a
    data: link drawn as a button does)."""
    version = use_game_version(game)

    def links() -> str:
        if game.running:
            return ""
        name, played = game.scenario.name, len(game.rounds)
        return (download_link(game.to_json(), f"classroom-{name}-round-{played}.json", "application/json",
                              "Save the game (JSON)", "classroom-save-link", BUTTON_STYLE)
                + download_link(game.summary_csv(), f"classroom-{name}-round-{played}-summary.csv", "text/csv",
                                "Summary (CSV)", "classroom-summary-link", BUTTON_STYLE))

    made = solara.use_memo(links, [version])
    if made:
        solara.HTML(tag="div", unsafe_innerHTML=made, classes=["classroom-export"], style="margin-top: 6px")
    else:
        solara.Text("Save the game between rounds.", style={"color": "#868e96"})


@solara.component
def Teacher():
    """``/``: join link and QR code, the teacher's controls (with the key), the market."""
    game = shared_game()
    use_game_version(game)
    teacher = is_teacher()
    join = settings().get("join_url", "/join")
    solara.Title(f"Classroom: {game.scenario.name}")
    solara.Style(CSS)
    with solara.Columns([1, 3], style="padding: 12px"):
        with solara.Column():
            solara.HTML(tag="div", unsafe_innerHTML=f"<div style='font-size:20px'>Join the market:</div>"
                        f"<div class='classroom-join' style='font-size:22px'><b>{join}</b></div>{qr_svg(join)}")
            solara.Text(f"{len(game.teams)} of {game.slots} {'players' if game.individuals else 'teams'} joined",
                        style={"font-size": "17px"})
            if teacher:
                disabled = game.running or game.finished
                solara.Button(f"Play round {len(game.rounds) + 1}", color="primary", disabled=disabled,
                              on_click=lambda: threading.Thread(target=game.play_round, daemon=True).start(),
                              classes=["classroom-play"])
                solara.Button("End game", disabled=game.running or game.finished, on_click=game.end,
                              classes=["classroom-end"])
                Exports(game)
                solara.HTML(tag="a", unsafe_innerHTML="Summary page (for the projector at the end)",
                            attributes={"href": "/summary", "style": "color: #1971c2"}, classes=["classroom-summary"])
                rejoin = "".join(f"<li><bdi>{html.escape(t.name)}</bdi>: <a rel='noreferrer' target='_blank' "
                                 f"href='{html.escape(join, quote=True)}?team={t.token}'>{html.escape(join)}?team={t.token}</a>"
                                 "</li>" for t in game.teams.values())
                if rejoin:  # a student who lost the page's address gets it back from the teacher
                    solara.HTML(tag="details", classes=["classroom-rejoin"], style="font-size: 14px",
                                unsafe_innerHTML=f"<summary>Rejoin links (a student lost the page)</summary><ul>{rejoin}</ul>")
        with solara.Column():
            if game.finished:
                solara.HTML(tag="h2", unsafe_innerHTML="Final results")
            Market(game)


@solara.component
def Summary():
    """``/summary`` (the teacher's key needed): the final (or current) standings and the exports."""
    game = shared_game()
    teacher = is_teacher()
    solara.Title(f"Classroom summary: {game.scenario.name}")
    solara.Style(CSS)
    if not teacher:
        refusal("The summary is the teacher's page: open it from the teacher's address.")
        return
    with solara.Column(style="padding: 12px"):
        solara.HTML(tag="h2", unsafe_innerHTML=f"Summary: {game.scenario.name}")
        Market(game)
        Exports(game)


@solara.component
def JoinForm(game: Game):
    name, set_name = solara.use_state("")
    error, set_error = solara.use_state("")
    router = solara.use_router()

    def join() -> None:
        try:
            team = game.join(name, browser=solara.get_session_id())
        except GameError as exc:
            set_error(str(exc))
            return
        router.push(f"/join?team={team.token}")

    with solara.Column(classes=["classroom-student"]):
        solara.HTML(tag="h2", unsafe_innerHTML="Join the market")
        solara.Text(f"{'You run' if game.individuals else 'Your team runs'} a streaming service. Choose a name:")
        solara.InputText("Your name" if game.individuals else "Team name", value=name, on_value=set_name, continuous_update=True,
                         classes=["classroom-name"])
        solara.Button("Join", color="primary", on_click=join, classes=["classroom-join-button"])
        if error:
            refusal(error)


@solara.component
def TeamPage(game: Game, token: str):
    version = use_game_version(game)
    error, set_error = solara.use_state("")
    team = game.team(token)
    chart = solara.use_memo(lambda: team_svg(game, team), [version, token])
    d = team.decisions

    def decide(field: str, value: Any) -> None:
        try:
            game.decide(token, {field: value})
            set_error("")
        except GameError as exc:
            set_error(str(exc))

    row = next(r for r in game.leaderboard() if r["team"] == team.name)
    rank = [r["team"] for r in game.leaderboard()].index(team.name) + 1
    with solara.Column(classes=["classroom-student"], gap="4px"):
        solara.HTML(tag="h2", unsafe_innerHTML=f"{'' if game.individuals else 'Team '}<bdi>{html.escape(team.name)}</bdi>",
                    classes=["classroom-team"])
        solara.Text("Keep this page's address: it brings you back to your service.", style={"color": "#868e96"})
        solara.HTML(tag="div", unsafe_innerHTML=status_line(game), classes=["classroom-status"])
        if row["launched"]:
            solara.HTML(tag="div", classes=["classroom-figures"], unsafe_innerHTML=(
                f"Rank <b>{rank}</b> of {len(game.teams)} · users <b>{row['users'] / 1e6:,.1f} M</b> · premium "
                f"<b>{row['premium'] / 1e6:,.1f} M</b><br>since launch: subscriptions <b>{row['revenue_subscriptions_m']:,.1f}</b>"
                f" + ads <b>{row['revenue_ads_m']:,.1f}</b> M EUR, profit <b>{row['profit_m']:,.1f}</b> M EUR"))
        else:
            solara.Text("Your service enters the market when the teacher starts the next round.")
        if chart:
            solara.HTML(tag="div", unsafe_innerHTML=chart)
        solara.HTML(tag="h3", unsafe_innerHTML=f"Your decisions for round {len(game.rounds) + (0 if game.running else 1)}")
        locked = game.running or game.finished
        for field, label, unit in (("price", "Price, premium", "EUR/month"), ("ad_load", "Ad load, free tier", "ad-min/hour"),
                                   ("marketing", "Marketing", "million EUR/month"),
                                   ("personalization", "Personalisation", "0..1")):
            low, high, step = Decisions.LIMITS[field]
            value = getattr(d, field)
            with solara.Column(gap="0px", classes=[f"classroom-{field}"]):
                solara.Text(f"{label} ({unit}): {value:g}", style={"font-size": "17px"})
                solara.SliderFloat("", value=value, min=low, max=high, step=step, disabled=locked, thumb_label=False,
                                   on_value=lambda v, field=field: decide(field, round(v, 2)))
        solara.Switch(label="Free tier with ads", value=d.free_tier, disabled=locked,
                      on_value=lambda v: decide("free_tier", v), classes=["classroom-free_tier"])
        if error:
            refusal(error)


@solara.component
def Student():
    """``/join``: the join form, or the team's own page once joined (its token in the address)."""
    game = shared_game()
    use_game_version(game)
    token = query("team")
    router = solara.use_router()
    # the join link opened again in a browser that joined (or a join whose new address is not shown
    # yet): back to its team, and its address, to keep or bookmark, in the address bar
    back = game.returning(solara.get_session_id()) if game.team(token) is None else None
    token = back.token if back is not None else token

    def keep_address() -> None:
        if back is not None:
            router.push(f"/join?team={back.token}")

    solara.use_effect(keep_address, [back.token if back is not None else ""])
    solara.Title("Classroom: your service")
    solara.Style(CSS)
    if game.team(token) is None:
        JoinForm(game)
    else:
        TeamPage(game, token)


@solara.component
def Layout(children: list = []):  # noqa: B006 (solara's signature)
    """Every page as it is, without solara's app bar and navigation tabs."""
    solara.Column(children=children, style="padding: 0")


routes = [solara.Route(path="/", component=Teacher, layout=Layout), solara.Route(path="join", component=Student),
          solara.Route(path="summary", component=Summary)]
