"""Fixtures the operator tests share."""

from __future__ import annotations

import pytest


@pytest.fixture
def cli(app):
    """`python -m portal flask ...` in the test's app, each command expected to succeed (its result returned)."""
    runner = app.test_cli_runner()

    def run(*args):
        result = runner.invoke(args=list(map(str, args)))
        assert result.exit_code == 0, result.output
        return result

    return run
