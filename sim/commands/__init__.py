"""The command layer: one module per subcommand, each with ``add_parser(subparsers)``."""
