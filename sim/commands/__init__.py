"""The command layer: one module per ``freemium-sim`` subcommand.

Each module has ``add_parser(subparsers)``, which adds the subcommand and sets
``func=<handler>`` (``handler(args) -> int`` exit status), and holds what the terminal
shows for it (progress bars, tables). The domain (sim.analysis, sim.sweep, sim.runner,
sim.app, sim.report) never imports this package: it reports progress through callbacks
and raises errors (sim.errors). ``sim.cli`` imports only the module of the subcommand
asked for, so a quick command does not pay for the imports of a heavy one.
"""
