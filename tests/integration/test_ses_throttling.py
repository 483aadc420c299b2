"""SES past its sending rate (moto in process): `Throttling` is retried by botocore, and a send still
refused after every attempt is a failed delivery that costs no key."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse

from central.aws import clients as aws
from central.aws.ses import SesSender
from central.domain.results import Outcome
from central.notify.mailers.ses import SesMailer
from central.rotation.run import run_rotation
from tests.integration.conftest import Harness
from tests.integration.faults import ANSWERED, Faults, Throttle
from tests.integration.fixtures_extra import (
    clean_harness,
    items,
    journal,
    key_ids,
    row,
    shared_botocore_loader,  # noqa: F401 - autouse: shared service models (speed)
)

DUE = (("prod", "alice"), ("dev", "dave"), ("ops", "olga"))
SES_THROTTLE = (
    b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
    b"<Message>Maximum sending rate exceeded.</Message></Error><RequestId>ses-rate</RequestId></ErrorResponse>"
)


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_kwargs: Any) -> Any:
        yield self._data


def _ses_harness(central: boto3.Session) -> Harness:
    harness = clean_harness(central)
    central.client("ses").verify_email_identity(EmailAddress="ikr@example.com")
    harness.services.mailer = SesMailer(SesSender(aws.ses(central)), "ikr@example.com")
    return harness


def _throttle_sends(faults: Faults, central: boto3.Session, times: int | None) -> tuple[Throttle, list[str]]:
    """SES answers SendEmail with its rate error `times` times (None: always), through botocore's retries."""
    recorder = faults.throttle([False])  # nothing else throttled; back-off sleeps recorded, moto skips answered
    answered: list[str] = []

    def before_send(request: AWSPreparedRequest, **_kwargs: Any) -> AWSResponse | None:
        if times is not None and len(answered) >= times:
            return None
        answered.append(request.url)
        request.headers[ANSWERED] = "1"
        return AWSResponse(request.url, 400, {"Content-Type": "text/xml"}, _Body(SES_THROTTLE))

    aws.ses(central).meta.events.register_first("before-send.ses.SendEmail", before_send)
    return recorder, answered


def test_sends_over_the_sending_rate_are_retried_and_every_due_user_is_rotated(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch
):
    harness = _ses_harness(central)
    faults = Faults(monkeypatch)
    recorder, answered = _throttle_sends(faults, central, times=5)

    result = run_rotation(harness.services)

    assert len(answered) == 5
    assert len(recorder.sleeps) == 5  # each throttled send backed off, then sent again
    assert faults.operations("ses").count("SendEmail") == 3  # one call per mail; the retries are botocore's
    sent = central.client("ses").get_send_statistics()["SendDataPoints"]
    assert sum(point["DeliveryAttempts"] for point in sent) == 3
    ids = harness.world.account_ids
    for account, user in DUE:
        (entry,) = [u for u in row(result, ids[account]).users if u.user == user]
        assert entry.outcome is Outcome.ROTATED
        assert len(key_ids(harness, account, user)) == 2
    assert result.exit_code == 0


def test_a_send_throttled_past_every_attempt_is_a_failed_delivery_that_keeps_the_old_key(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch
):
    harness = _ses_harness(central)
    old = {user: key_ids(harness, account, user) for account, user in DUE}
    faults = Faults(monkeypatch)
    recorder, answered = _throttle_sends(faults, central, times=None)

    result = run_rotation(harness.services, concurrency=1)

    attempts = harness.services.settings.IKR_AWS_MAX_ATTEMPTS
    assert len(answered) == attempts * len(DUE)  # every attempt botocore makes, then it gives up
    assert len(recorder.sleeps) == (attempts - 1) * len(DUE)
    ids = harness.world.account_ids
    for account, user in DUE:
        (entry,) = [u for u in row(result, ids[account]).users if u.user == user]
        assert entry.outcome is Outcome.FAILED
        assert "Throttling: Maximum sending rate exceeded." in entry.detail
        assert "removed, old key" in entry.detail
        assert key_ids(harness, account, user) == old[user]  # the new key is gone, the old one stays
        assert [item for item in items(harness, account) if item.user_name == user] == []  # nothing scheduled
    assert journal(harness) == []
    assert result.exit_code == 1
