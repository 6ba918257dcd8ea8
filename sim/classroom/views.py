"""What the classroom pages show, as HTML, SVG and PNG: leaderboard, join QR code, market shares.

Pure functions of a :class:`~sim.classroom.game.Game`; no solara here.
"""

from __future__ import annotations

import html
import io

import matplotlib.dates as mdates
import numpy as np
import segno
from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from sim.app.charts import FONT, horizon
from sim.classroom.game import Game

TEAM_COLOURS = ("#d6336c", "#1c7ed6", "#f08c00", "#7048e8", "#0ca678", "#e03131")
MARKET_COLOURS = ("#2b8a3e", "#868e96", "#adb5bd", "#ced4da")  # the scenario's services: the focal one green, rivals grey


def qr_svg(url: str) -> str:
    """A QR code of ``url`` as inline SVG (drawn here: no image service is asked)."""
    return segno.make(url, error="m").svg_inline(scale=5, dark="#212529")


def colours(game: Game) -> list[str]:
    """A colour per service in model order: teams bright, the scenario's services green and grey."""
    out = [MARKET_COLOURS[min(k, len(MARKET_COLOURS) - 1)] for k in range(game.first_slot)]
    return out + [TEAM_COLOURS[k % len(TEAM_COLOURS)] for k in range(game.slots)]


def leaderboard_html(game: Game) -> str:
    """The leaderboard as an HTML table (best profit first), one ``tr`` per team with its name in ``data-team``."""
    colour = colours(game)
    head = ("<tr><th>#</th><th>team</th><th>users<br>(M)</th><th>premium<br>(M)</th><th>share</th>"
            "<th>subscriptions<br>(M EUR)</th><th>ads<br>(M EUR)</th><th>profit<br>(M EUR)</th></tr>")
    rows = []
    index = {t.name: game.service_index(t) for t in game.teams.values()}
    for rank, r in enumerate(game.leaderboard(), start=1):
        swatch = f"<span style='display:inline-block;width:12px;height:12px;background:{colour[index[r['team']]]}'></span>"
        if not r["launched"]:
            figures = "<td colspan='6'><i>enters the market next round</i></td>"
        else:
            figures = "".join(f"<td>{v}</td>" for v in (
                f"{r['users'] / 1e6:,.1f}", f"{r['premium'] / 1e6:,.1f}", f"{100 * r['market_share']:.1f} %",
                f"{r['revenue_subscriptions_m']:,.1f}", f"{r['revenue_ads_m']:,.1f}", f"{r['profit_m']:,.1f}"))
        rows.append(f"<tr data-team='{html.escape(r['team'], quote=True)}'><td>{rank}</td>"
                    f"<td>{swatch} <b>{html.escape(r['team'])}</b></td>{figures}</tr>")
    if not rows:
        rows.append("<tr><td colspan='8'><i>no team yet: open the join link</i></td></tr>")
    return f"<table class='classroom-table'>{head}{''.join(rows)}</table>"


def share_png(game: Game) -> bytes:
    """Market share (% of monthly active users) of every service shown, month by month, with
    a dotted line at each round's start, as PNG bytes."""
    m, t = game.model, game.model.t
    labels, colour = game.labels(), colours(game)
    with rc_context(FONT):
        fig = Figure(figsize=(9, 4.6), dpi=72)
        fig.subplots_adjust(left=0.08, right=0.72, bottom=0.1, top=0.9)
        ax = fig.subplots()
        # the months played and the next round: a game's first years are not lost in the horizon
        ahead = 0 if game.finished else game.months_per_round
        ax.set_xlim(*horizon(m.dates[: min(len(m.dates), max(t + ahead, 1))]))
        ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=8))
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))
        ax.set_title("Market share", loc="left")
        ax.set_ylabel("% of monthly active users")
        ax.grid(alpha=0.3)
        for rnd in game.rounds:
            ax.axvline(m.dates[rnd.start], color="#495057", lw=1, ls=":")
        top = 1.0
        for k in game.live_services():
            share = 100 * np.nan_to_num(m.records["market_share"][:t, k])
            if k >= game.first_slot:  # a team: from its launch on
                team = next(x for x in game.teams.values() if game.service_index(x) == k)
                share[: game.rounds[team.joined_round].start] = np.nan
            ax.plot(m.dates[:t], share, color=colour[k], lw=3 if k >= game.first_slot else 2, label=labels[k])
            top = max(top, float(np.nanmax(share, initial=0.0)))
        ax.set_ylim(0, min(100.0, 1.1 * top))
        if game.live_services():
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        canvas = FigureCanvasAgg(fig)
        buf = io.BytesIO()
        canvas.print_png(buf)
    return buf.getvalue()
