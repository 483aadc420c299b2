"""Rule 9 through the console script: against an emulator endpoint the clock may be turned without
IKR_ALLOW_CLOCK_OVERRIDE; an endpoint that sends one key service to AWS itself is no emulator."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import DAY_100, DAY_110, E2E

pytestmark = pytest.mark.e2e


def test_against_the_emulator_rotate_and_stream_pump_take_now_without_the_override(e2e: E2E) -> None:
    assert "IKR_ALLOW_CLOCK_OVERRIDE" not in e2e.env
    e2e.create_table()
    (old,) = e2e.keys("prod", "alice")

    assert e2e.ikr("rotate", "--now", DAY_100).code == 1  # carol's bad tag
    assert e2e.ikr("rotate", "--now", DAY_110).code == 1  # the sweep
    pump = e2e.ikr("stream-pump", "--now", DAY_110)

    assert pump.code == 0, pump.stderr
    (new,) = e2e.keys("prod", "alice")
    assert new != old
    assert len(e2e.sink.messages) >= 2  # alice and dave were mailed their new keys


def test_an_endpoint_that_leaves_dynamodb_on_aws_itself_is_refused_before_any_call(e2e: E2E) -> None:
    e2e.create_table()
    before = e2e.all_keys()

    run = e2e.ikr("rotate", "--now", DAY_100, AWS_ENDPOINT_URL_DYNAMODB="https://dynamodb.us-east-1.amazonaws.com")

    assert run.code == 2, run.stderr
    assert "--now is refused: this run would change keys on real AWS (DynamoDB goes to AWS itself" in run.stderr
    assert "IKR_ALLOW_CLOCK_OVERRIDE=1" in run.stderr
    assert "Traceback" not in run.stderr
    assert e2e.all_keys() == before
    assert e2e.sink.messages == []
