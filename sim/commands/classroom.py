"""``freemium-sim classroom [SCENARIO.yaml] [--port P] [--host H]``: the participatory market game.

Checks everything a user can get wrong (scenario, room for teams, saved game, address)
before it becomes the Solara server of :mod:`sim.classroom.page`.
"""

from __future__ import annotations

import argparse
import json
import secrets
import socket
from pathlib import Path
from typing import NoReturn

from sim.app.controls import DEFAULT_LISTENERS, DEFAULT_SCENARIO, LISTENER_LIMITS, load_dashboard_scenario
from sim.app.server import become_server, check_address, server_env
from sim.commands.dashboard import add_server_options
from sim.scenario import ScenarioError

WILDCARDS = ("0.0.0.0", "::", "")


def public_host(host: str) -> str:
    """The address students type: ``host``, or this machine's LAN address when it listens on every interface."""
    if host not in WILDCARDS:
        return host
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))  # a UDP "connect" sends nothing: it only picks the outgoing interface
            return s.getsockname()[0]
    except OSError:
        return socket.gethostname()


def check_resume(path: str) -> None:
    """Refuse a saved game that cannot be resumed before the server starts (the server replays
    it): unreadable, or anything :func:`sim.classroom.game.read_save` refuses."""
    from sim.classroom.game import read_save

    file = Path(path)
    if not file.is_file():
        raise ScenarioError(f"--resume {path}: not a file")
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"--resume {path}: cannot read it ({str(exc)[:200]})") from None
    read_save(text, f"--resume {path}")


def students_line(host: str, base: str) -> str:
    """What the terminal tells the teacher about the address students type."""
    if host in WILDCARDS:
        return f"  students type (this machine's network address): {base}/join"
    if host in ("127.0.0.1", "localhost", "::1"):
        return (f"  students join at: {base}/join (this machine only: for phones on the school network, "
                "start with --host 0.0.0.0)")
    return f"  students type: {base}/join"


def cmd_classroom(args: argparse.Namespace) -> NoReturn:
    from sim.classroom.game import classroom_scenario, default_slots

    if not LISTENER_LIMITS[0] <= args.listeners <= LISTENER_LIMITS[1]:
        raise ScenarioError(f"--listeners: must be from {LISTENER_LIMITS[0]:,} to {LISTENER_LIMITS[1]:,} (got {args.listeners:,})")
    if args.round_months < 1:
        raise ScenarioError(f"--round-months: must be at least 1 (got {args.round_months})")
    if args.resume and (args.scenario or args.teams is not None or args.individuals):
        raise ScenarioError("classroom: --resume continues a saved game with its own scenario, teams and players: "
                            "give no scenario, --teams or --individuals with it")
    if args.resume:
        check_resume(args.resume)
        name = Path(args.resume).name
    else:
        scenario = load_dashboard_scenario(args.scenario)  # a bad file stops here with one clear message
        classroom_scenario(scenario, args.listeners, default_slots(scenario, args.individuals) if args.teams is None
                           else args.teams)
        name = scenario.name
    check_address(args.host, args.port)
    base = f"http://{public_host(args.host)}:{args.port}"
    key = secrets.token_urlsafe(16)
    settings = {"scenario": str(Path(args.scenario).resolve()) if args.scenario else None, "listeners": args.listeners,
                "round_months": args.round_months, "resume": str(Path(args.resume).resolve()) if args.resume else None,
                "key": key, "join_url": f"{base}/join", "teams": args.teams, "individuals": args.individuals}
    print(f"freemium-sim classroom: '{name}'\n  teacher (keep this address to yourself): {base}/?teacher={key}\n"
          f"{students_line(args.host, base)}\n  (Ctrl-C stops it)", flush=True)
    become_server(args.host, args.port, "sim.classroom.page", server_env(None, {"FREEMIUM_SIM_CLASSROOM": json.dumps(settings)}),
                  launcher="sim.classroom.guard")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``freemium-sim classroom``."""
    p = subparsers.add_parser("classroom")
    p.add_argument("scenario", nargs="?", help=f"scenario YAML file of the market (default: {DEFAULT_SCENARIO} if it exists)")
    add_server_options(p, 8766)
    p.add_argument("--round-months", type=int, default=12, help="months played per round (default: 12)")
    p.add_argument("--listeners", type=int, default=DEFAULT_LISTENERS,
                   help=f"simulated listeners (default: {DEFAULT_LISTENERS:,}; a round of 12 months takes seconds)")
    p.add_argument("--teams", type=int, help="services the class can run: teams, or students with --individuals "
                   "(default: 16, or 32 with --individuals; fewer if the scenario's market has no room)")
    p.add_argument("--individuals", action="store_true", help="students join one by one under their own name, "
                   "each running a service, instead of as teams")
    p.add_argument("--resume", metavar="GAME.json", help="resume a game saved from the teacher's page")
    p.set_defaults(func=cmd_classroom)
