"""Prefect flows: they order tasks and hold no domain logic."""
