"""sandbench's Python library: one module per subcommand, plus shared helpers."""
