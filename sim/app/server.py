"""Starting the Solara server for the dashboard (and the classroom game): offline, no reloader."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import NoReturn

from sim.app.controls import DEFAULT_SCENARIO, SCENARIO_ENV, load_dashboard_scenario


def server_command(host: str, port: int) -> list[str]:
    """The command line of the Solara server: production mode (no reloader), no browser opened."""
    return [sys.executable, "-m", "solara", "run", "sim.app", "--host", host, "--port", str(port),
            "--production", "--no-open", "--log-level", "warning"]


def server_env(scenario_path: str | Path | None) -> dict[str, str]:
    """The server's environment: the scenario, and nothing fetched from the internet.

    Font Awesome is the only asset solara's page loads from its CDN; the dashboard uses no icons.
    """
    env = dict(os.environ, SOLARA_ASSETS_FONTAWESOME_ENABLED="false", MPLBACKEND="agg")
    if scenario_path is not None:
        env[SCENARIO_ENV] = str(Path(scenario_path).resolve())
    return env


def cmd_dashboard(args: argparse.Namespace) -> NoReturn:
    scenario = load_dashboard_scenario(args.scenario)  # a bad file stops here with one clear message
    print(f"freemium-sim dashboard: scenario '{scenario.name}' at http://{args.host}:{args.port} (Ctrl-C stops it)",
          flush=True)
    # become the server, so that stopping this process (Ctrl-C, a signal) stops the server too
    os.execve(sys.executable, server_command(args.host, args.port), server_env(args.scenario))


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``freemium-sim dashboard``."""
    p = subparsers.add_parser("dashboard", help="start the teaching dashboard (a local web page)")
    p.add_argument("scenario", nargs="?", help=f"scenario YAML file (default: {DEFAULT_SCENARIO} if it exists, else the defaults)")
    p.add_argument("--port", type=int, default=8765, help="port to serve on (default: 8765)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    p.set_defaults(func=cmd_dashboard)
