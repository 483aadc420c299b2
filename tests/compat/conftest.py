"""The compatibility tests with aws-iam-key-rotator: moto in process (the integration tests' set-up),
one standalone account as the original ran in, an SMTP sink for the mails."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.conftest import aws_env, central  # noqa: F401 - fixtures of this folder too
from tests.integration.fixtures_extra import shared_botocore_loader  # noqa: F401 - autouse: speed
from tests.support.servers import SmtpSink
from tests.unit.test_settings_corpus import aws_calls  # noqa: F401 - fixture: every AWS call refused


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as relay:
        yield relay
