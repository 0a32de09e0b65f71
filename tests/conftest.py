"""Shared test options: ``--device`` runs the torch tests on another device (azula's pattern)."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--device", default="cpu", help="torch device for the tests (cpu, cuda, cuda:1, ...)"
    )


@pytest.fixture(scope="session")
def device(request: pytest.FixtureRequest) -> str:
    """The torch device chosen with ``--device`` (default ``cpu``)."""
    return request.config.getoption("--device")
