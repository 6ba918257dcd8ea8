"""``freemium-sim params``: every parameter with its default, unit and description."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``freemium-sim params``."""
    p = sub.add_parser("params")
    p.add_argument("--markdown", action="store_true", help="print a Markdown table (for docs)")
    p.set_defaults(func=cmd_params)


def cmd_params(args: argparse.Namespace) -> int:
    from sim.scenario import parameter_table

    rows = parameter_table()
    if args.markdown:
        print("| parameter | default | unit | range | description |\n|---|---|---|---|---|")
        for p in rows:
            rng = "" if p.low is None and p.high is None else f"{p.low if p.low is not None else ''} .. {p.high if p.high is not None else ''}"
            print(f"| `{p.path}` | {p.default} | {p.unit} | {rng} | {p.description} |")
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="freemium-sim parameters (defaults)")
    for col in ("parameter", "default", "unit", "range", "description"):
        table.add_column(col, overflow="fold")
    for p in rows:
        rng = "" if p.low is None and p.high is None else f"{p.low if p.low is not None else ''}..{p.high if p.high is not None else ''}"
        table.add_row(p.path, str(p.default), p.unit, rng, p.description)
    Console(width=200).print(table)
    return 0
