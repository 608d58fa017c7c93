"""Pytest plugins of this suite, loaded by tests/conftest.py: one concern each."""
