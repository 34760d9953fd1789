"""Fixtures for the emulator tests (see tests/conftest.py)."""
