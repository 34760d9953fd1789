"""Core functions of the CLI commands, one module per command (imported lazily by jobs/cli.py)."""
