"""Entry points on top of everything: the `vidp` command (`main`) and the temporary Prefect API
it starts when no server is configured. Nothing below imports from here."""
