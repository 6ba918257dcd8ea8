"""``freemium-sim validate FILE``: check a scenario file (exit 0 if valid, 2 if not)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``freemium-sim validate``."""
    p = sub.add_parser("validate")
    p.add_argument("file")
    p.set_defaults(func=cmd_validate)


def cmd_validate(args: argparse.Namespace) -> int:
    from sim.scenario import load_scenario

    scenario = load_scenario(args.file)
    print(f"{args.file}: valid scenario '{scenario.name}' ({scenario.time.start} + {scenario.time.months} months, "
          f"{scenario.market.agents:,} listeners for {scenario.weight * scenario.market.agents:,.0f} people at most)")
    return 0
