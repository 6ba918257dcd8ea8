"""What the classroom pages show, as HTML and SVG: leaderboard, join QR code, market shares, a team's own chart.

Pure functions of a :class:`~sim.classroom.game.Game`; no solara here.
"""

from __future__ import annotations

import base64
import html
import io
import threading
import warnings

import matplotlib.colors as mcolors
import matplotlib.dates as mdates
import numpy as np
import segno
from matplotlib import colormaps, rc_context
from matplotlib.figure import Figure

from sim.app.charts import FONT, REVENUE_COLOURS, horizon, nice_ceiling
from sim.classroom.game import Game, Team

# matplotlib's tab20 without its greens and greys (the scenario's services' colours), its strong
# shades first: 16 teams, 16 colours; the next 16 repeat them with dashed lines
TEAM_COLOURS = tuple(mcolors.to_hex(colormaps["tab20"].colors[k]) for k in (*range(0, 20, 2), *range(1, 20, 2))
                     if k not in (4, 5, 14, 15))
LEGEND_ROWS = 13  # names in one legend column beside the market share chart; more take two
SAVING = threading.Lock()  # rc_context is process-wide: the server draws pages in threads, one figure at a time here
MARKET_COLOURS = ("#2b8a3e", "#868e96", "#adb5bd", "#ced4da")  # the scenario's services: the focal one green, rivals grey


def qr_svg(url: str) -> str:
    """A QR code of ``url`` as inline SVG (drawn here: no image service is asked)."""
    return segno.make(url, error="m").svg_inline(scale=5, dark="#212529")


def colours(game: Game) -> list[str]:
    """A colour per service in model order: teams bright, the scenario's services green and grey."""
    scenario_own = [*range(game.first_slot), *range(game.first_slot + game.slots, len(game.model.services))]
    out = {k: MARKET_COLOURS[min(i, len(MARKET_COLOURS) - 1)] for i, k in enumerate(scenario_own)}
    out.update({game.first_slot + k: TEAM_COLOURS[k % len(TEAM_COLOURS)] for k in range(game.slots)})
    return [out[k] for k in range(len(game.model.services))]


def leaderboard_html(game: Game) -> str:
    """The leaderboard as an HTML table (best profit first), one ``tr`` per team with its name in ``data-team``."""
    colour = colours(game)
    head = (f"<tr><th>#</th><th>{'player' if game.individuals else 'team'}</th><th>users<br>(M)</th><th>premium<br>(M)</th><th>share</th>"
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
                    f"<td>{swatch} <b><bdi>{html.escape(r['team'])}</bdi></b></td>{figures}</tr>")
    if not rows:
        rows.append("<tr><td colspan='8'><i>no team yet: open the join link</i></td></tr>")
    return f"<table class='classroom-table'>{head}{''.join(rows)}</table>"


def svg_img(fig: Figure, css_class: str, alt: str) -> str:
    """``fig`` as an ``<img>`` of inline SVG (vector: crisp on a projector and a phone). Its text
    stays text (escaped by matplotlib; an SVG in an ``<img>`` runs no script), so the browser
    draws what matplotlib's font lacks: emoji, right-to-left scripts."""
    buf = io.BytesIO()
    with SAVING, warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Glyph .* missing from font", UserWarning)  # the browser has it
        with rc_context({"svg.fonttype": "none"}):
            fig.savefig(buf, format="svg")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f"<img class='{css_class}' alt='{html.escape(alt, quote=True)}' style='width:100%' src='data:image/svg+xml;base64,{data}'>"


def month_axis(ax, dates) -> None:
    """Concise dates on the x axis of ``ax`` over ``dates`` (numpy datetime64, one a month)."""
    ax.set_xlim(*horizon(dates))
    # at most seven ticks, on months that divide the year (January, so the year, is one): never
    # days, whose labels crowd a phone; whole years on a long game
    step = next((s for s in (1, 2, 3, 4, 6, 12) if len(dates) / s <= 7), None)
    ax.xaxis.set_major_locator(mdates.MonthLocator(bymonth=range(1, 13, step)) if step
                               else mdates.YearLocator(base=-(-len(dates) // 84)))
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))


def launch_step(game: Game, team: Team) -> int | None:
    """The month index at which ``team``'s service entered the market, None before it did."""
    return game.rounds[team.joined_round].start if team.joined_round < len(game.rounds) else None


def share_figure(game: Game) -> Figure:
    """Market share (% of monthly active users) of every service shown, month by month, with a
    dotted line at each round's start, and a legend with every name in full below it."""
    m, t = game.model, game.model.t
    labels, colour = game.labels(), colours(game)
    shown = game.live_services()
    with rc_context({**FONT, "text.parse_math": False}):  # a name such as $x$ is text, not mathtext
        fig = Figure(figsize=(11, 5.4), layout="constrained")
        ax = fig.subplots()
        # the months played and the next round: a game's first years are not lost in the horizon
        ahead = 0 if game.finished else game.months_per_round
        month_axis(ax, m.dates[: min(len(m.dates), max(t + ahead, 1))])
        ax.set_title("Market share", loc="left")
        ax.set_ylabel("% of monthly active users")
        ax.grid(alpha=0.3)
        for rnd in game.rounds:
            ax.axvline(m.dates[rnd.start], color="#495057", lw=1, ls=":")
        top = 0.0
        by_slot = {game.service_index(x): x for x in game.teams.values()}
        for k in shown:
            share = 100 * np.nan_to_num(m.records["market_share"][:t, k])
            if k in by_slot:  # a team: from its launch on
                share[: launch_step(game, by_slot[k])] = np.nan
            style = "--" if k in by_slot and by_slot[k].slot >= len(TEAM_COLOURS) else "-"  # a second cycle of colours
            ax.plot(m.dates[:t], share, color=colour[k], ls=style, lw=3 if k in by_slot else 2, label=labels[k])
            top = max(top, float(np.nanmax(share, initial=0.0)))
        ax.set_ylim(0, nice_ceiling(1.1 * top) if top > 0 else 100.0)
        fig.legend(loc="outside right upper", ncols=1 if len(shown) <= LEGEND_ROWS else 2, frameon=False, fontsize=12)
    return fig


def share_svg(game: Game) -> str:
    """:func:`share_figure` as an ``<img>`` (SVG)."""
    return svg_img(share_figure(game), "classroom-shares", "Market share of every service, month by month")


def team_figure(game: Game, team: Team) -> Figure:
    """A team's own service since its launch, phone-sized, three panels over the months: users
    (free and premium, millions of people), revenue (subscriptions and ads, million EUR/month)
    and market share (% of monthly active users), a dotted line at each round's start."""
    m, t, k = game.model, game.model.t, game.service_index(team)
    since = launch_step(game, team)
    dates, rec = m.dates[since:t], m.records
    window = (slice(since, t), k)
    premium = np.nan_to_num(rec["premium_subscribers"][window]) / 1e6
    users = np.maximum(np.nan_to_num(rec["mau"][window]) / 1e6, premium)
    with rc_context({**FONT, "text.parse_math": False, "font.size": 12, "axes.titlesize": 13, "xtick.labelsize": 11, "ytick.labelsize": 11,
                     "legend.fontsize": 11}):
        fig = Figure(figsize=(3.9, 5.6), layout="constrained")
        axes = fig.subplots(3, 1, sharex=True)
        axes[0].stackplot(dates, premium, users - premium, colors=("#1971c2", "#a5d8ff"), labels=("premium", "free"))
        axes[0].set_title("Your users (millions)", loc="left")
        axes[1].stackplot(dates, np.nan_to_num(rec["revenue_subscription_eur"][window]) / 1e6,
                          np.nan_to_num(rec["revenue_ads_eur"][window]) / 1e6, colors=REVENUE_COLOURS,
                          labels=("subscriptions", "ads"))
        axes[1].set_title("Your revenue (million EUR/month)", loc="left")
        share = 100 * np.nan_to_num(rec["market_share"][window])
        axes[2].plot(dates, share, color=colours(game)[k], lw=2.5)
        axes[2].set_title("Your market share (%)", loc="left")
        axes[2].set_ylim(0, nice_ceiling(1.1 * float(share.max(initial=0.0))))
        for ax, top in zip(axes[:2], (users.max(initial=0.0), axes[1].dataLim.y1), strict=True):
            ax.set_ylim(0, nice_ceiling(1.4 * top))  # room for the legend above the areas
            ax.legend(loc="upper left", frameon=False, ncols=2)
        for ax in axes:
            ax.grid(alpha=0.3)
            for rnd in game.rounds[team.joined_round:]:
                ax.axvline(m.dates[rnd.start], color="#495057", lw=1, ls=":")
        month_axis(axes[2], dates)
    return fig


def team_svg(game: Game, team: Team) -> str:
    """:func:`team_figure` as an ``<img>`` (SVG), or '' before the team's service has played a month."""
    since = launch_step(game, team)
    if since is None or game.model.t <= since:
        return ""
    return svg_img(team_figure(game, team), "classroom-team-chart", "Your users, revenue and market share, month by month")
