"""Fixtures for the pulumi tests (see tests/conftest.py)."""
