"""Machine users end to end: `ikr rotate` writes the new pair into Secrets Manager and SSM on the moto
server, the pair works, the old key waits until the new one is used (or the grace time ends), and a
local webhook receives every notice, none with a secret."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest

from tests.e2e.conftest import E2E, TODAY
from tests.support.servers import WebhookSink
from tests.support.world import UserSpec, add_users, caller_arn

pytestmark = pytest.mark.e2e
OWNER = "platform@example.com"


def _at(days: int) -> str:
    return (TODAY + timedelta(days=days)).isoformat(timespec="seconds")


@pytest.fixture
def webhook() -> Iterator[WebhookSink]:
    with WebhookSink() as sink:
        yield sink


def test_machine_keys_go_to_their_stores_and_old_keys_wait_for_the_switch(e2e: E2E, webhook: WebhookSink) -> None:
    machines = [
        UserSpec("deployer", {"IKR:EMAIL": OWNER, "IKR:DELIVERY": "secretsmanager:ikr/ci/deployer"}),
        UserSpec("nightly", {"IKR:EMAIL": OWNER, "IKR:DELIVERY": "ssm:/ikr/jobs/nightly"}),
        UserSpec("rogue", {"IKR:EMAIL": OWNER, "IKR:DELIVERY": "secretsmanager:prod/database"}),
    ]
    add_users(e2e.world.session(e2e.account("dev")), machines)
    secrets = e2e.client("dev", "secretsmanager")
    secrets.create_secret(Name="prod/database", SecretString="do-not-touch")
    env = {"NOTIFY_WEBHOOK_URL": webhook.url, "VERIFY_USE_GRACE_DAYS": "3"}
    e2e.create_table()
    dev = e2e.account("dev")

    run = e2e.ikr("rotate", "--now", _at(100), **env)

    assert run.code == 1, run.stdout + run.stderr  # carol's and rogue's bad tags
    assert "must start with 'ikr/'" in run.line_for(" rogue ")
    assert secrets.get_secret_value(SecretId="prod/database")["SecretString"] == "do-not-touch"
    deployer = json.loads(secrets.get_secret_value(SecretId="ikr/ci/deployer")["SecretString"])
    nightly = json.loads(
        e2e.client("dev", "ssm").get_parameter(Name="/ikr/jobs/nightly", WithDecryption=True)["Parameter"]["Value"]
    )
    assert caller_arn(deployer) == f"arn:aws:iam::{dev}:user/deployer"
    assert caller_arn(nightly) == f"arn:aws:iam::{dev}:user/nightly"
    notices = [m for m in e2e.sink.messages if m.to == OWNER]
    assert len(notices) == 2
    assert {"rotated", "run-summary"} <= set(webhook.events())

    # The deletion time comes: both new keys have been used (by `_works` above, as a pipeline would),
    # so both old keys go. The waiting for an unused key is the next test.
    checkpoint = str(e2e.cwd / "checkpoint.json")
    assert e2e.ikr("rotate", "--now", _at(110), **env).code == 1
    assert e2e.ikr("stream-pump", "--now", _at(110), "--checkpoint", checkpoint, **env).code == 0
    assert e2e.keys("dev", "deployer") == [deployer["AccessKeyId"]]
    assert e2e.keys("dev", "nightly") == [nightly["AccessKeyId"]]

    secret_values = {deployer["SecretAccessKey"], nightly["SecretAccessKey"], webhook.token}
    bodies = json.dumps(webhook.received)
    assert not any(value in bodies for value in secret_values)
    assert not any(value in run.stdout + run.stderr for value in secret_values)
    assert {"rotated", "old-key-retired"} <= set(webhook.events())


def test_an_unused_new_key_holds_the_old_one_until_the_grace_time_ends(e2e: E2E, webhook: WebhookSink) -> None:
    add_users(
        e2e.world.session(e2e.account("dev")),
        [UserSpec("idle", {"IKR:EMAIL": OWNER, "IKR:DELIVERY": "ssm:/ikr/jobs/idle"})],
    )
    env = {"NOTIFY_WEBHOOK_URL": webhook.url, "VERIFY_USE_GRACE_DAYS": "3"}
    e2e.create_table()
    assert e2e.ikr("rotate", "--now", _at(100), **env).code == 1
    old, new = e2e.keys("dev", "idle")
    checkpoint = str(e2e.cwd / "checkpoint.json")

    # Past the deletion time (5 days) the new key is still unused: the old key stays, the owner hears.
    assert e2e.ikr("rotate", "--now", _at(106), **env).code == 1
    assert e2e.ikr("stream-pump", "--now", _at(106), "--checkpoint", checkpoint, **env).code == 0
    assert e2e.keys("dev", "idle") == [old, new]
    waiting = [m for m in e2e.sink.messages if m.to == OWNER and "Waiting for idle" in m.subject]
    assert len(waiting) == 1
    assert "retirement-postponed" in webhook.events()

    # Past the grace time (3 more days) it goes anyway; owner and administrator are told.
    assert e2e.ikr("rotate", "--now", _at(109), **env).code == 1
    pump = e2e.ikr("stream-pump", "--now", _at(109), "--checkpoint", checkpoint, ADMIN_EMAIL="admin@example.com", **env)
    assert pump.code == 0, pump.stdout + pump.stderr
    assert e2e.keys("dev", "idle") == [new]
    subjects = [(m.to, m.subject) for m in e2e.sink.messages]
    assert any(to == OWNER and "without a switch" in subject for to, subject in subjects)
    assert any(to == "admin@example.com" and "before the switch" in subject for to, subject in subjects)
