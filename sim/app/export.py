"""The class's run as one CSV file: every month, every KPI, every policy change with its date."""

from __future__ import annotations

import base64
import html

import numpy as np
import pandas as pd

from sim.app.live import DashboardModel


def policy_changes(model: DashboardModel) -> dict[int, list[str]]:
    """Month index -> the policy changes that took effect at its start: the scenario's
    timeline events (``timeline: <path>=<value>``, ``timeline: <service> enters``/``leaves``) and the live moves (``live: ad load 2.5→5``)."""
    changes: dict[int, list[str]] = {}
    for ev in model.scenario.timeline:
        step = int(np.searchsorted(model.dates, pd.Timestamp(ev.at)))
        if step >= model.t:
            continue
        said = [f"timeline: {path}={value}" for path, value in (ev.set or {}).items()]
        said += [f"timeline: {ev.enter.name} enters"] if ev.enter else []
        said += [f"timeline: {ev.exit} leaves"] if ev.exit else []
        changes.setdefault(step, []).extend(said)
    for change in list(model.live_changes):
        changes.setdefault(change.step, []).append(f"live: {change.label(model.names)}")
    return changes


def run_csv(model: DashboardModel) -> str:
    """The run so far as CSV text: the model's time series (one row per month and service,
    every KPI in the output contract's units and names) and a ``policy_changes`` column
    naming the changes of that month ("; " between them; empty if none)."""
    frame = model.timeseries()
    changes = policy_changes(model)
    frame["date"] = frame["date"].dt.strftime("%Y-%m-%d")
    frame["policy_changes"] = ["; ".join(changes.get(int(step), [])) for step in frame["step"]]
    return frame.to_csv(index=False, float_format="%.6g")


LINK_STYLE = "font-size:17px; color:#1971c2; text-decoration:underline"


def download_link(text: str, filename: str, mime: str, label: str, css_class: str, style: str = LINK_STYLE) -> str:
    """An HTML link that saves ``text`` as ``filename`` in the browser (a data: address:
    nothing is fetched, it works offline). Solara's FileDownload widget does not render
    in solara's Vuetify 3 page, so the pages offer this link instead (``style``: its CSS)."""
    data = base64.b64encode(text.encode("utf-8")).decode("ascii")
    return (f"<a class='{css_class}' download='{html.escape(filename, quote=True)}' href='data:{mime};charset=utf-8;"
            f"base64,{data}' style='{style}'>{html.escape(label)}</a>")
