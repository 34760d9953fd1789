"""Fixtures for the stack tests: stand-in pulumi executable (see tests/conftest.py)."""
