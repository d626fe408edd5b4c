"""Fixtures for every test suite in the repository come from servicekit's plugin."""

pytest_plugins = ["servicekit.pytest_plugin"]
