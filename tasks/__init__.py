"""Thin Prefect tasks around the plain functions in `vidp`: retries, caching, tags."""
