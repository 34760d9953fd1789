"""Fixtures for the runner tests (see tests/conftest.py)."""
