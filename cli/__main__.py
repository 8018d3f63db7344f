"""`python -m vidp.cli ...` runs the `vidp` command (tests and containers start it this way)."""

from vidp.cli.main import app

app()
