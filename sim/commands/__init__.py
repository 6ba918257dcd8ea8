"""Subcommands of ``freemium-sim``, one module each, with ``add_parser(subparsers)``."""
