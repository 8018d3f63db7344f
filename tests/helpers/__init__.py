"""Test helpers, one module per concern (`from helpers.media import speak`); the fixtures that
wrap them are in the conftest.py of the folder that uses them."""
