"""The retry run (every RETRY_AFTER_MINS): one DynamoDB Query when nothing is due; a user whose delivery
failed and a failed deletion are taken up RETRY_AFTER_MINS later, not before, through the same use
cases as the daily run (the account's pass; the sweep's removal and the destructor via the stream)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest

from central.aws import expiry_stream
from central.aws.expiry_item import RETRY_AT_ATTRIBUTE, RETRY_QUEUE_ATTRIBUTE, State
from central.aws.expiry_table import ExpiryTable
from central.aws.retry_marks import MARK_KEY
from central.aws.stream_pump import Checkpoint, pump
from central.clock import fixed_clock
from central.domain.errors import DeliveryRefused, DeliveryUncertain, SettingsError
from central.domain.results import AccountResult, Outcome
from central.notify.mailers.base import Mail
from central.retirement.destroy import Destroyed, destroy
from central.rotation.retry import MAX_RETRY_PASSES, run_retries
from central.rotation.run import run_rotation
from handlers import destructor
from tests.integration.conftest import TABLE, Harness, RecordingMailer, make_services
from tests.integration.destroy_scene import NOW, Scene
from tests.integration.faults import Faults
from tests.integration.fixtures_extra import (
    LATER,
    clean_harness,
    items,
    key_ids,
    shared_botocore_loader,  # noqa: F401 - autouse: shared service models (speed)
)

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")
RETRY = timedelta(minutes=5)  # RETRY_AFTER_MINS' default


def at(harness: Harness, moment: datetime) -> None:
    harness.services.clock = fixed_clock(moment)


def users(run_accounts: list[AccountResult], outcome: Outcome) -> list[str]:
    return sorted(user.user for account in run_accounts for user in account.users if user.outcome is outcome)


def raw_items(central: boto3.Session) -> list[dict[str, Any]]:
    return central.client("dynamodb").scan(TableName=TABLE)["Items"]


# -- cost -----------------------------------------------------------------------------------------
def test_with_nothing_due_a_retry_run_is_exactly_one_dynamodb_query(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch
):
    harness = clean_harness(central)
    harness.mailer.down = True
    run_rotation(harness.services)  # three users postponed: their accounts are marked for LATER + 5 min
    harness.mailer.down = False
    at(harness, LATER + RETRY - timedelta(seconds=1))
    faults = Faults(monkeypatch)

    run = run_retries(harness.services)

    assert [(call.service, call.operation) for call in faults.calls] == [("dynamodb", "Query")]
    (query,) = faults.calls
    assert query.params["IndexName"] == "due-retries"
    assert (run.swept, run.accounts, run.left_to_daily_run) == (0, [], [])


def test_with_an_empty_table_a_retry_run_is_one_query_too(central: boto3.Session, monkeypatch: pytest.MonkeyPatch):
    harness = clean_harness(central)
    run_rotation(harness.services)  # everyone rotated: scheduled items, not retries
    faults = Faults(monkeypatch)

    run = run_retries(harness.services)

    assert faults.operations() == ["Query"]
    assert run.accounts == []


# -- a user whose delivery failed ---------------------------------------------------------------------
def test_a_user_whose_mail_failed_is_rotated_by_the_retry_run_after_retry_after_mins_not_before(
    central: boto3.Session,
):
    harness = clean_harness(central)
    before = {user: key_ids(harness, account, user) for account, user in (("prod", "alice"), ("dev", "dave"))}
    harness.mailer.down = True
    first = run_rotation(harness.services)
    assert users(first.accounts, Outcome.FAILED) == ["alice", "dave", "olga"]  # new keys removed, old kept
    harness.mailer.down = False

    at(harness, LATER + RETRY - timedelta(seconds=1))
    early = run_retries(harness.services)
    assert early.accounts == []
    assert harness.mailer.sent == []
    assert key_ids(harness, "prod", "alice") == before["alice"]

    at(harness, LATER + RETRY)
    retried = run_retries(harness.services)

    assert retried.exit_code == 0
    assert sorted(account.account_id for account in retried.accounts) == sorted(harness.world.account_ids.values())
    assert users(retried.accounts, Outcome.ROTATED) == ["alice", "dave", "olga"]
    assert users(retried.accounts, Outcome.NOT_DUE) == ["bob"]
    assert sorted(mail.to for mail in harness.mailer.sent) == [
        "alice@example.com",
        "dave@example.com",
        "olga@example.com",
    ]
    assert len(key_ids(harness, "prod", "alice")) == 2  # the new key, and the old one until its deletion
    assert [item.state for item in items(harness, "prod")] == [State.SCHEDULED]
    # Done: the marks are gone, so the next retry run finds nothing.
    assert not [raw for raw in raw_items(central) if raw["item_key"] == {"S": MARK_KEY}]
    assert run_retries(harness.services).accounts == []


class RefusingForGood(RecordingMailer):
    """A mail system that refuses every address for a reason only a person mends (SES's MessageRejected
    for an unverified address, SMTP's 550, Mailgun's 401)."""

    def send(self, mail: Mail) -> None:
        raise DeliveryRefused(f"SES refused the mail to {mail.to}: MessageRejected: Email address is not verified")


def test_a_mail_refused_for_good_waits_for_the_daily_run_not_the_retry_run(central: boto3.Session):
    harness = clean_harness(central)
    before = key_ids(harness, "prod", "alice")
    harness.services.mailer = RefusingForGood()

    first = run_rotation(harness.services)

    assert users(first.accounts, Outcome.FAILED) == ["alice", "dave", "olga"]
    assert key_ids(harness, "prod", "alice") == before  # the new key removed again, the old one kept
    assert not [raw for raw in raw_items(central) if raw["item_key"] == {"S": MARK_KEY}]  # no retry marks
    at(harness, LATER + RETRY)
    assert run_retries(harness.services).accounts == []  # nothing for the retry run: no key made for nothing


class UncertainOnce(RecordingMailer):
    """The first mail to each address is sent but its answer lost; later ones go through."""

    def __init__(self) -> None:
        super().__init__()
        self.lost: list[Mail] = []

    def send(self, mail: Mail) -> None:
        if all(lost.to != mail.to for lost in self.lost):
            self.lost.append(mail)
            raise DeliveryUncertain(f"connection lost after DATA for {mail.to}")
        super().send(mail)


def test_an_uncertain_delivery_is_sent_again_by_the_retry_run_the_same_key(central: boto3.Session):
    harness = clean_harness(central)
    mailer = harness.services.mailer = UncertainOnce()
    run_rotation(harness.services)
    (journal,) = items(harness, "dev")
    assert journal.state is State.KEY_CREATED
    assert journal.delivery_uncertain_at is not None

    at(harness, LATER + RETRY - timedelta(seconds=1))
    assert run_retries(harness.services).accounts == []
    at(harness, LATER + RETRY)
    retried = run_retries(harness.services)

    assert users(retried.accounts, Outcome.RECOVERED) == ["alice", "dave", "olga"]
    (item,) = items(harness, "dev")
    assert item.state is State.SCHEDULED
    assert item.new_key_id == journal.new_key_id  # the same key, never a second one
    assert [mail.to for mail in mailer.sent].count("dave@example.com") == 1  # sent again, once


def test_a_mail_system_that_stays_down_is_left_to_the_daily_run_after_the_last_retry(central: boto3.Session):
    harness = clean_harness(central)
    harness.mailer.down = True
    run_rotation(harness.services)
    moment = LATER
    for _ in range(MAX_RETRY_PASSES):
        moment += RETRY
        at(harness, moment)
        assert len(run_retries(harness.services).accounts) == 3  # every pass postpones again

    at(harness, moment + RETRY)
    last = run_retries(harness.services)

    assert last.accounts == []
    assert sorted(last.left_to_daily_run) == sorted(harness.world.account_ids.values())
    assert not [raw for raw in raw_items(central) if raw["item_key"] == {"S": MARK_KEY}]
    harness.mailer.down = False
    assert users(run_rotation(harness.services).accounts, Outcome.ROTATED) == ["alice", "dave", "olga"]


def test_marks_are_invisible_to_the_table_s_readers_and_to_the_destructor(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch
):
    harness = clean_harness(central)
    harness.mailer.down = True
    # One account at a time: moto numbers stream records by len(records) without a lock, so writes
    # from several threads can share a SequenceNumber, which the destructor rightly refuses.
    run_rotation(harness.services, concurrency=1)
    assert items(harness, "prod") == []  # the mark is there, but no reader sees it
    assert harness.table.sweep(LATER + timedelta(days=400)) == []
    harness.mailer.down = False
    at(harness, LATER + RETRY)
    run_retries(harness.services)  # the marks are removed: REMOVE records on the stream

    monkeypatch.setenv("MAIL_FROM", "ikr@example.com")
    monkeypatch.setenv("IAM_KEY_ROTATOR_TABLE", TABLE)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "ikr-test")
    refused: list[str] = []
    monkeypatch.setattr(expiry_stream.logger, "error", lambda *args, **kwargs: refused.append(f"{args} {kwargs}"))
    pumped = pump(central.client("dynamodbstreams"), harness.table.stream_arn(), destructor.handler, Checkpoint(None))
    assert pumped.failed == 0
    assert pumped.records > 0
    assert refused == []  # the marks' REMOVE records are dropped without an error


# -- a failed deletion -----------------------------------------------------------------------------------
def test_a_failed_deletion_is_handed_to_the_destructor_by_the_retry_run_after_retry_after_mins_not_before(
    central: boto3.Session, scene: Scene, monkeypatch: pytest.MonkeyPatch
):
    faults = Faults(monkeypatch)
    faults.refuse("DeleteAccessKey", code="ServiceFailure", message="injected", status=500)
    assert destroy(scene.context(), scene.item, removed_by_ttl=True).outcome is Destroyed.RETRY
    faults.clear()
    (put_back,) = scene.table_items()
    assert put_back.expires_at is not None
    services, _ = make_services(central)

    services.clock = fixed_clock(NOW + RETRY - timedelta(seconds=1))
    assert run_retries(services).swept == 0
    assert scene.table_items() == [put_back]

    services.clock = fixed_clock(NOW + RETRY)
    assert run_retries(services).swept == 1
    assert scene.table_items() == []  # removed as the sweep removes: the stream hands it over

    # The destructor Lambda's path, on its own clock (the real one: long before NOW), as deployed.
    monkeypatch.setenv("MAIL_FROM", "ikr@example.com")
    monkeypatch.setenv("IAM_KEY_ROTATOR_TABLE", TABLE)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "ikr-test")
    pumped = pump(central.client("dynamodbstreams"), scene.table.stream_arn(), destructor.handler, Checkpoint(None))

    assert pumped.failed == 0
    assert scene.access_keys() == {scene.new}  # the retry deleted the old key
    assert [item.state for item in scene.table_items()] == []  # a tombstone only, which readers never see
    assert run_retries(services).swept == 0


def test_only_a_retry_put_back_is_in_the_index(central: boto3.Session, scene: Scene, monkeypatch: pytest.MonkeyPatch):
    Faults(monkeypatch).refuse("DeleteAccessKey", code="ServiceFailure", status=500)
    destroy(scene.context(), scene.item, removed_by_ttl=True)
    (raw,) = raw_items(central)
    assert raw[RETRY_QUEUE_ATTRIBUTE] == {"S": "due"}
    assert raw[RETRY_AT_ATTRIBUTE] == raw["expires_at"]
    (put_back,) = scene.table_items()
    assert put_back.handling is not None
    # Any other write of the item (here: a deactivation's put-back) leaves the index.
    scene.table.put(put_back.model_copy(update={"handling": put_back.handling.model_copy(update={"outcome": "x"})}))
    (raw,) = raw_items(central)
    assert RETRY_QUEUE_ATTRIBUTE not in raw
    assert RETRY_AT_ATTRIBUTE not in raw


# -- a table made before the index ---------------------------------------------------------------------
def _table_without_index(central: boto3.Session) -> None:
    central.client("dynamodb").create_table(
        TableName=TABLE,
        AttributeDefinitions=[
            {"AttributeName": "account_id", "AttributeType": "S"},
            {"AttributeName": "item_key", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "account_id", "KeyType": "HASH"},
            {"AttributeName": "item_key", "KeyType": "RANGE"},
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )


def test_a_table_without_the_index_says_how_to_add_it_and_bootstrap_adds_it(central: boto3.Session):
    _table_without_index(central)
    table = ExpiryTable(central.client("dynamodb"), TABLE)
    with pytest.raises(SettingsError, match="has no due-retries index: run `ikr bootstrap`"):
        table.retries.due(0)

    assert table.create() is False  # there already: the index is added
    indexes = central.client("dynamodb").describe_table(TableName=TABLE)["Table"]["GlobalSecondaryIndexes"]
    assert [index["IndexName"] for index in indexes] == ["due-retries"]
    assert table.retries.due(0).marks == ()
