"""``freemium-sim dashboard [SCENARIO.yaml]``: start the teaching dashboard (a local Solara server)."""

from __future__ import annotations

import argparse
from typing import NoReturn


def add_server_options(p: argparse.ArgumentParser, port: int) -> None:
    """--port and --host, shared by ``dashboard`` and ``classroom``."""
    p.add_argument("--port", type=int, default=port, help=f"port to serve on (default: {port})")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1, this machine only; 0.0.0.0: the whole network)")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``freemium-sim dashboard``."""
    p = subparsers.add_parser("dashboard")
    p.add_argument("scenario", nargs="?",
                   help="scenario YAML file (default: scenarios/baseline.yaml if it exists, else the defaults)")
    add_server_options(p, 8765)
    p.set_defaults(func=cmd_dashboard)


def cmd_dashboard(args: argparse.Namespace) -> NoReturn:
    from sim.app.controls import load_dashboard_scenario
    from sim.app.server import become_server, check_address, server_env

    scenario = load_dashboard_scenario(args.scenario)  # a bad file stops here with one clear message
    check_address(args.host, args.port)
    print(f"freemium-sim dashboard: scenario '{scenario.name}' at http://{args.host}:{args.port} (Ctrl-C stops it)",
          flush=True)
    become_server(args.host, args.port, "sim.app", server_env(args.scenario))
