"""Credentials that outlive an hour (moto in process). Member sessions refresh their AssumeRole
credentials before they expire; when AWS refuses a token as expired anyway, the session renews it
and sends the request again, once; and a warm session past its expiry renews before its first call."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse

from central.aws import clients as aws
from central.aws.errors import AwsAccessDenied, aws_call
from central.aws.sessions import SessionBroker
from central.domain.results import Outcome
from central.rotation.run import run_rotation
from tests.integration.faults import ANSWERED, Faults, _Body
from tests.integration.fixtures_extra import (
    clean_harness,
    shared_botocore_loader,  # noqa: F401 - autouse: shared service models (speed)
)

MEMBER = "210987654321"
QUERY_EXPIRED = (
    b"<ErrorResponse><Error><Type>Sender</Type><Code>ExpiredToken</Code><Message>The security token included "
    b"in the request is expired</Message></Error><RequestId>expired</RequestId></ErrorResponse>"
)
JSON_EXPIRED = json.dumps(
    {"__type": "ExpiredTokenException", "message": "The security token included in the request is expired"}
).encode()


class TurnedClock:
    """The real clock, turned forward by `ahead` (the credentials' expiry is compared with it)."""

    def __init__(self) -> None:
        self.ahead = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.ahead


@dataclass
class Expire:
    """Answers the first `times` requests of an operation with AWS's expired-token error; records
    the session token every request of it was signed with."""

    times: int | None
    tokens: list[str] = field(default_factory=list)
    answered: int = 0

    def __call__(self, request: AWSPreparedRequest, **_kwargs: Any) -> AWSResponse | None:
        self.tokens.append(str(request.headers.get("X-Amz-Security-Token", b""), "utf-8"))
        if self.times is not None and self.answered >= self.times:
            return None
        self.answered += 1
        request.headers[ANSWERED] = "1"  # moto must not carry it out (Faults.throttle wraps its stubber)
        if "x-amz-json" in str(request.headers.get("Content-Type", b"")):
            headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": "ExpiredTokenException"}
            return AWSResponse(request.url, 400, headers, _Body(JSON_EXPIRED))
        return AWSResponse(request.url, 403, {"Content-Type": "text/xml"}, _Body(QUERY_EXPIRED))


class LaterBroker(SessionBroker):
    """A broker in a process whose clock has moved on by `clock.ahead`: AWS's answers are an hour
    from the real now, so the credentials it gives are made to expire an hour from the turned one."""

    def __init__(self, central: boto3.Session, clock: TurnedClock) -> None:
        super().__init__(central, "ikr-member", now=clock)
        self._clock = clock

    def _assume(self, account_id: str) -> dict[str, str]:
        credentials = super()._assume(account_id)
        expiry = datetime.fromisoformat(credentials["expiry_time"]) + self._clock.ahead
        return {**credentials, "expiry_time": expiry.isoformat()}


def _assumed(faults: Faults) -> int:
    return faults.operations("sts").count("AssumeRole")


@pytest.mark.parametrize(("service", "operation"), [("iam", "ListUsers"), ("ssm", "DescribeParameters")])
def test_an_expired_token_is_renewed_and_the_member_call_succeeds(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch, service: str, operation: str
):
    faults = Faults(monkeypatch)
    faults.throttle([False])  # nothing throttled: only moto's stubber learns to skip what was answered
    member = SessionBroker(central, "ikr-member").session_for(MEMBER)
    client = getattr(aws, service)(member)
    expire = Expire(times=1)
    client.meta.events.register_first(f"before-send.{service}.{operation}", expire)

    getattr(client, {"ListUsers": "list_users", "DescribeParameters": "describe_parameters"}[operation])()

    assert expire.answered == 1
    assert len(expire.tokens) == 2  # the refused request, and the same request sent again
    assert expire.tokens[0] != expire.tokens[1]  # signed with the renewed credentials
    assert _assumed(faults) == 2  # the session's first AssumeRole, and the renewal
    assert faults.operations(service).count(operation) == 1  # one call; the second attempt is botocore's


def test_a_token_refused_again_after_renewal_is_the_accounts_failure_not_a_loop(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch
):
    faults = Faults(monkeypatch)
    faults.throttle([False])
    member = SessionBroker(central, "ikr-member").session_for(MEMBER)
    expire = Expire(times=None)
    aws.iam(member).meta.events.register_first("before-send.iam.ListUsers", expire)

    with pytest.raises(AwsAccessDenied, match=r"iam:ListUsers \(account 210987654321\).*ExpiredToken"):
        with aws_call("iam:ListUsers", f"account {MEMBER}"):
            aws.iam(member).list_users()

    assert expire.answered == 2  # renewed once, then the answer stands
    assert _assumed(faults) == 2


def test_a_warm_session_past_its_expiry_renews_before_its_first_call(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch
):
    """A Lambda execution environment keeps member sessions between invocations: two hours later
    (past role chaining's one hour) the next run's first call in each account assumes the role again."""
    harness = clean_harness(central)
    clock = TurnedClock()
    harness.services.broker = LaterBroker(central, clock)
    faults = Faults(monkeypatch)

    first = run_rotation(harness.services)
    assumed_first = _assumed(faults)
    broker = harness.services.broker
    kept = {account_id: broker.session_for(account_id) for account_id in harness.world.account_ids.values()}
    clock.ahead = timedelta(hours=2)
    faults.calls.clear()
    second = run_rotation(harness.services)

    accounts = len(harness.world.account_ids)
    assert assumed_first == accounts
    assert _assumed(faults) == accounts  # each kept session renewed once, before its first request
    assert all(broker.session_for(account_id) is session for account_id, session in kept.items())  # not new ones
    assert first.exit_code == 0
    assert second.exit_code == 0
    rows = [user.outcome for account in second.accounts for user in account.users]
    assert Outcome.FAILED not in rows
    assert Outcome.PENDING in rows  # the users rotated by the first run, seen again by the second
