"""``freemium-sim dashboard [SCENARIO.yaml]``: start the teaching dashboard (a local Solara server)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import NoReturn


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``freemium-sim dashboard``."""
    p = subparsers.add_parser("dashboard", help="start the teaching dashboard (a local web page)")
    p.add_argument("scenario", nargs="?", help="scenario YAML file (default: scenarios/baseline.yaml if it exists, else the defaults)")
    p.add_argument("--port", type=int, default=8765, help="port to serve on (default: 8765)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    p.set_defaults(func=cmd_dashboard)


def cmd_dashboard(args: argparse.Namespace) -> NoReturn:
    from sim.app import load_dashboard_scenario, server_command, server_env

    scenario = load_dashboard_scenario(args.scenario)  # a bad file stops here with one clear message
    print(f"freemium-sim dashboard: scenario '{scenario.name}' at http://{args.host}:{args.port} (Ctrl-C stops it)",
          flush=True)
    # become the server, so that stopping this process (Ctrl-C, a signal) stops the server too
    os.execve(sys.executable, server_command(args.host, args.port), server_env(args.scenario))
