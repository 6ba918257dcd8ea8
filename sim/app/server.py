"""Starting a Solara server for the dashboard or the classroom game: offline, no reloader.

Nothing leaves the machine: solara's check for a newer version on PyPI, its telemetry
(Mixpanel, and a lookup of the server's public address) and Font Awesome from its CDN are
all off. tests/test_dashboard_browser.py proves it with a recording loopback proxy.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from typing import NoReturn

from sim.app.controls import SCENARIO_ENV
from sim.scenario import ScenarioError

OFFLINE_ENV = {
    "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "false",  # else solara posts usage to api.mixpanel.com (and asks api.ipify.org)
    "SOLARA_ASSETS_FONTAWESOME_ENABLED": "false",  # the only asset its page loads from a CDN; no icons are used
    "SOLARA_THEME_SHOW_BANNER": "false",  # its "runs on Solara" badge lay over the listener inspector
    "MPLBACKEND": "agg",
}


def server_command(host: str, port: int, module: str = "sim.app", launcher: str = "solara") -> list[str]:
    """The command line of the Solara server of ``module``: production mode (no reloader),
    no browser opened, no version check against PyPI. ``launcher`` is the module run as
    ``solara`` (the classroom's wraps it: :mod:`sim.classroom.guard`)."""
    return [sys.executable, "-m", launcher, "run", module, "--host", host, "--port", str(port),
            "--production", "--no-open", "--no-check-version", "--log-level", "warning"]


# Solara warns at every page load over plain http that its session cookie falls back to
# SameSite=Lax: right for a classroom LAN, and a screenful of noise in the teacher's terminal.
QUIET_WARNINGS = "ignore:Cookies with samesite=none require https:UserWarning"


def server_env(scenario_path: str | Path | None, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The server's environment: the scenario (and ``extra`` settings), nothing fetched from
    the internet, no warnings that are not the user's business."""
    env = dict(os.environ, **OFFLINE_ENV, **(extra or {}))
    env["PYTHONWARNINGS"] = ",".join(w for w in (os.environ.get("PYTHONWARNINGS"), QUIET_WARNINGS) if w)
    if scenario_path is not None:
        env[SCENARIO_ENV] = str(Path(scenario_path).resolve())
    return env


def check_address(host: str, port: int) -> None:
    """Refuse (ScenarioError) a port outside 1..65535 or an address this machine cannot listen on now."""
    if not 1 <= port <= 65535:
        raise ScenarioError(f"--port: must be from 1 to 65535 (got {port})")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(address)
    except OSError as exc:
        raise ScenarioError(f"--host {host} --port {port}: cannot listen there ({exc.strerror or exc})") from None


def become_server(host: str, port: int, module: str, env: dict[str, str], launcher: str = "solara") -> NoReturn:
    """Replace this process with the Solara server, so that stopping it (Ctrl-C, a signal) stops the server."""
    os.execve(sys.executable, server_command(host, port, module, launcher), env)
