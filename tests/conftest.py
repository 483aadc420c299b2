"""Fixtures every test folder may use."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from aws_lambda_powertools import Metrics

from central.aws import clients as aws_clients
from central.wiring import forget_warm_services

# Every AWS request of every test checked against its service model (tests/support/strict_aws.py).
pytest_plugins = ["tests.support.strict_pytest"]


@pytest.fixture(autouse=True)
def cold_execution_environment() -> Iterator[None]:
    """Each test starts as a new Lambda execution environment: the handlers keep their sessions and
    clients from one invocation to the next (`central.wiring.warm_services`), and a test's emulator
    (moto in process, a reset moto server) knows nothing of the member credentials of the last test."""
    forget_warm_services()
    Metrics().clear_metrics()
    yield
    forget_warm_services()
    # Powertools keeps metrics in one buffer shared by every Metrics object; a handler run with
    # POWERTOOLS_METRICS_DISABLED skips the flush that empties it, so the next test would emit them.
    Metrics().clear_metrics()


@pytest.fixture(autouse=True)
def default_botocore_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with the default retry Config: every entry point calls `clients.configure`
    with its settings, which replaces the process-wide Config, and a test that runs `ikr` in process
    with IKR_AWS_MAX_ATTEMPTS=2 (tests/integration/cli_world.py) otherwise left later tests of the same
    worker with clients that retry twice (test_ses_throttling then counted 3 back-offs, not 5)."""
    monkeypatch.setattr(aws_clients, "BOTO_CONFIG", aws_clients.make_config())


@pytest.fixture
def ikr_logging_restored(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """`ikr`'s `main()` routes the ikr logger to the current stderr at its own level: put both back
    afterwards, so a test that runs the CLI cannot change what later tests log or capture. Opt in
    with `pytestmark = pytest.mark.usefixtures("ikr_logging_restored")`: for a test that first
    creates the logger it would reset Powertools' level to NOTSET, which silences later tests."""
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "INFO")
    log = logging.getLogger("ikr")
    level = log.level
    streams = [(h, h.stream) for h in log.handlers if isinstance(h, logging.StreamHandler)]
    yield
    log.setLevel(level)
    for handler, stream in streams:
        handler.stream = stream  # not setStream: it flushes the test's captured stderr, closed by now
