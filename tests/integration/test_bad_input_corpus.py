"""The bad-input corpus (`tests/data/bad_input.json`) against a whole Organization run and the
destructor: every item gets a message naming where it is (account, user, tag or field), nothing
bad is acted on, the good users of the same run are still rotated, and the exit code says 1."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from central.aws.expiry_item import ExpiryItem, State, epoch
from central.aws.expiry_table import ExpiryTable
from central.clock import fixed_clock
from central.domain.results import AccountStatus, Outcome
from central.rotation.account_queue import AccountMessage
from central.rotation.run import run_rotation
from handlers import account_worker, destructor, rotator
from tests.integration.conftest import RecordingMailer, make_harness
from tests.integration.destroy_scene import Scene
from tests.integration.faults import Faults
from tests.integration.fixtures_extra import (
    LATER,
    shared_botocore_loader,  # noqa: F401 - autouse: shared service models (speed)
)
from tests.support.world import AccountSpec, OrgSpec, UserSpec, World, build_world

CORPUS: dict[str, Any] = json.loads((Path(__file__).parents[1] / "data" / "bad_input.json").read_text())
GOOD = {"IKR:EMAIL": "good@example.com"}


def _user_tags(item: dict[str, Any]) -> dict[str, str]:
    tags = dict(item.get("tags", {}))
    tags["IKR:EMAIL"] = item.get("email", tags.get("IKR:EMAIL", "owner@example.com"))
    return tags


def _corpus_org() -> OrgSpec:
    users = [UserSpec(item["id"], _user_tags(item)) for item in CORPUS["user_tags"]]
    users += [UserSpec("good-1", GOOD), UserSpec("good-2", GOOD)]
    accounts = [AccountSpec("users", "Corpus", {}, users)]
    accounts += [
        AccountSpec(item["id"], "Corpus", item["tags"], [UserSpec("good", GOOD)]) for item in CORPUS["account_tags"]
    ]
    accounts += [
        AccountSpec(f"in-{item['id']}", item["id"], {}, [UserSpec("good", GOOD)]) for item in CORPUS["ou_tags"]
    ]
    accounts.append(AccountSpec("clean", "Corpus", {}, [UserSpec("good", GOOD)]))
    ous = {"Corpus": {"IKR:ENABLED": "true"}} | {item["id"]: item["tags"] for item in CORPUS["ou_tags"]}
    return OrgSpec(ous=ous, accounts=accounts)


def test_every_bad_tag_is_named_and_the_good_users_are_still_rotated(
    central: boto3.Session, caplog: pytest.LogCaptureFixture
):
    harness = make_harness(central, _corpus_org())
    harness.services.clock = fixed_clock(LATER)  # every key is past its age

    result = run_rotation(harness.services)

    ids = harness.world.account_ids
    logged = [record.__dict__ for record in caplog.records]
    handled = 0
    users = next(row for row in result.accounts if row.account_id == ids["users"])
    by_user = {row.user: row for row in users.users}
    for item in CORPUS["user_tags"]:
        row = by_user[item["id"]]
        assert row.failed, item["id"]
        assert all(words in row.detail for words in item["expect"]), (item["id"], row.detail)
        if item.get("warn"):  # a warning never blocks the rotation, but is shown and fails the run
            assert row.outcome is Outcome.ROTATED, item["id"]
        else:
            assert row.outcome is Outcome.SKIPPED, item["id"]
            assert row.new_key_id is None
        named = [r for r in logged if r.get("user") == item["id"] and r.get("account_id") == ids["users"]]
        assert named, f"no log line names account and user {item['id']}"
        handled += 1
    assert {by_user["good-1"].outcome, by_user["good-2"].outcome} == {Outcome.ROTATED}

    accounts = {account.account_name: account for account in result.accounts}
    for item in CORPUS["account_tags"] + CORPUS["ou_tags"]:
        account = accounts[item["id"]] if item in CORPUS["account_tags"] else accounts[f"in-{item['id']}"]
        assert account.status is AccountStatus.FAILED, item["id"]
        assert all(words in account.detail for words in item["expect"]), (item["id"], account.detail)
        assert account.account_id in account.detail or item["id"] in account.detail  # names the account or OU
        assert account.users == []  # nothing done where the policy is unknown
        handled += 1
    assert accounts["clean"].users[0].outcome is Outcome.ROTATED
    assert result.exit_code == 1
    total = len(CORPUS["user_tags"]) + len(CORPUS["account_tags"]) + len(CORPUS["ou_tags"])
    print(f"tag corpus items: {total}, handled: {handled}")
    assert handled == total


# -- the destructor's events -----------------------------------------------------------------------------
@pytest.fixture
def handler_env(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.integration.conftest import TABLE

    monkeypatch.setenv("MAIL_FROM", "ikr@example.com")
    monkeypatch.setenv("IAM_KEY_ROTATOR_TABLE", TABLE)
    monkeypatch.setenv("IKR_NOW", LATER.isoformat())
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "ikr-test")


def _stream_record(scene: Scene, item: dict[str, Any], number: int) -> Any:
    if "raw" in item:
        return item["raw"]  # null, a string, a number, a list: not a record at all
    spec = item["record"]
    old = scene.item.to_item()
    for name in spec.get("drop", []):
        old.pop(name)
    old.update(spec.get("set", {}))
    sequence = spec.get("sequence", str(number))
    dynamodb: dict[str, Any] = {"SequenceNumber": sequence, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    dynamodb["Keys"] = {"account_id": old.get("account_id", {"S": "?"}), "item_key": old.get("item_key", {"S": "?"})}
    image = spec["image"]
    if image in ("old", "both"):
        dynamodb["OldImage"] = old
    if image in ("new", "both"):
        dynamodb["NewImage"] = old
    if image == "garbage":
        dynamodb["OldImage"] = "not a map"
    for name in spec.get("omit_dynamodb", []):
        del dynamodb[name]
    record: dict[str, Any] = {
        "eventID": f"corpus-{number}",
        "eventName": spec["eventName"],
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": dynamodb,
    }
    if image == "no-dynamodb":
        del record["dynamodb"]
    for name in spec.get("omit", []):
        del record[name]
    record.update(spec.get("record_set", {}))
    return record


def _invoke(event: Any) -> dict[str, Any]:
    from central.aws.stream_pump import LocalLambdaContext

    response: dict[str, Any] = destructor.handler(event, LocalLambdaContext())
    return response


def _dropped(caplog: pytest.LogCaptureFixture, message: str) -> dict[int, str]:
    """Reason logged for each dropped record, by its position in the batch."""
    return {
        record.__dict__["position"]: str(record.__dict__.get("reason"))
        for record in caplog.records
        if record.getMessage() == message and record.__dict__.get("position") is not None
    }


def _check_logged(items: list[dict[str, Any]], dropped: dict[int, str]) -> int:
    handled = 0
    for number, item in enumerate(items):
        if item.get("logged"):
            assert number in dropped, f"{item['id']}: no log line names position {number}"
            assert all(words in dropped[number] for words in item.get("reason", [])), (item["id"], dropped[number])
        else:
            assert number not in dropped, (item["id"], dropped[number])
        handled += 1
    return handled


@pytest.mark.usefixtures("handler_env")
@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_every_malformed_stream_record_is_logged_and_never_retried_and_the_good_one_is_acted_on(
    scene: Scene, caplog: pytest.LogCaptureFixture
):
    items = CORPUS["stream_records"]
    records = [_stream_record(scene, item, number) for number, item in enumerate(items)]

    response = _invoke({"Records": records})

    assert response == {"batchItemFailures": []}  # a retry cannot mend a malformed record
    handled = _check_logged(items, _dropped(caplog, "stream record not acted on"))
    # Only the REMOVE with extra attributes is a usable scheduled item: its old key is gone.
    assert scene.access_keys() == {scene.new}
    assert [item["id"] for item in items if item.get("acts")] == ["remove-unknown-attributes"]
    print(f"stream record corpus items: {len(items)}, handled: {handled}")
    assert handled == len(items)


@pytest.mark.usefixtures("handler_env")
@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_the_partial_batch_names_only_the_record_worth_retrying(
    scene: Scene, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    items = [item for item in CORPUS["stream_records"] if not item.get("acts")]
    records = [_stream_record(scene, item, number) for number, item in enumerate(items)]
    good = _stream_record(scene, {"record": {"eventName": "REMOVE", "image": "old"}}, len(records))
    faults = Faults(monkeypatch)
    faults.refuse("DeleteAccessKey", code="AccessDenied")  # the good record's destruction fails...
    faults.refuse("PutItem", code="AccessDenied")  # ...and so does putting it back: only a retry can help

    response = _invoke({"Records": [*records, good]})
    faults.clear()

    assert response == {"batchItemFailures": [{"itemIdentifier": good["dynamodb"]["SequenceNumber"]}]}
    assert _check_logged(items, _dropped(caplog, "stream record not acted on")) == len(items)
    assert scene.access_keys() == {scene.old, scene.new}


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
@pytest.mark.usefixtures("handler_env")
@pytest.mark.parametrize("item", CORPUS["events"], ids=[item["id"] for item in CORPUS["events"]])
def test_an_event_that_is_not_a_stream_batch_does_nothing(scene: Scene, item: dict[str, Any]):
    assert _invoke(item["event"]) == {"batchItemFailures": []}
    assert scene.access_keys() == {scene.old, scene.new}


def test_mail_in_the_corpus_run_went_only_to_good_addresses(central: boto3.Session):
    harness = make_harness(central, _corpus_org())
    harness.services.clock = fixed_clock(LATER)
    run_rotation(harness.services)

    mailer: RecordingMailer = harness.mailer
    bad_addresses = {item["email"] for item in CORPUS["user_tags"] if "email" in item}
    assert not {mail.to for mail in mailer.sent} & bad_addresses


# -- the account worker's SQS records --------------------------------------------------------------------
QUEUE_SPEC = OrgSpec(
    ous={"Corpus": {"IKR:ENABLED": "true"}},
    accounts=[AccountSpec("prod", "Corpus", {}, [UserSpec("alice", {"IKR:EMAIL": "alice@example.com"})])],
)


@dataclass
class Queued:
    """One opted-in account queued by the real rotator: its message as the event source mapping hands it."""

    world: World
    good: dict[str, Any]

    def alice_keys(self) -> int:
        iam = self.world.session(self.world.account_ids["prod"]).client("iam")
        return len(iam.list_access_keys(UserName="alice")["AccessKeyMetadata"])


def _worker_world(central: boto3.Session, monkeypatch: pytest.MonkeyPatch) -> World:
    from tests.integration.conftest import TABLE

    world = build_world(central, QUEUE_SPEC)
    ExpiryTable(central.client("dynamodb"), TABLE).create()
    central.client("ses").verify_email_identity(EmailAddress="ikr@example.com")
    for name, value in {
        "MAIL_FROM": "ikr@example.com",
        "IAM_KEY_ROTATOR_TABLE": TABLE,
        "IKR_NOW": LATER.isoformat(),  # alice's key is 100 days old: due
        "POWERTOOLS_METRICS_NAMESPACE": "ikr-test",
    }.items():
        monkeypatch.setenv(name, value)
    return world


@pytest.fixture
def queued(central: boto3.Session, monkeypatch: pytest.MonkeyPatch) -> Queued:
    from central.aws.stream_pump import LocalLambdaContext

    world = _worker_world(central, monkeypatch)
    sqs = central.client("sqs")
    url = sqs.create_queue(QueueName="ikr-accounts")["QueueUrl"]
    monkeypatch.setenv("IKR_ACCOUNT_QUEUE_URL", url)
    # Every ACTIVE account is queued (its own tags are the worker's to read): prod and the management account.
    assert rotator.handler({"source": "aws.events"}, LocalLambdaContext(function_name="ikr-rotator"))["queued"] == 2
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    prod = world.account_ids["prod"]
    (message,) = [m for m in messages if AccountMessage.model_validate_json(m["Body"]).account.id == prod]
    good: dict[str, Any] = {"messageId": message["MessageId"], "body": message["Body"], "eventSource": "aws:sqs"}
    good |= {"receiptHandle": message["ReceiptHandle"], "attributes": {}, "awsRegion": "us-east-1"}
    return Queued(world, good)


def _sqs_record(good: dict[str, Any], item: dict[str, Any], number: int) -> Any:
    if "raw" in item:
        return item["raw"]
    record = dict(good, messageId=f"corpus-{number}")
    if item.get("repeat_good_id"):
        record["messageId"] = good["messageId"]
    if "body" in item:
        record["body"] = item["body"]
    if "patch" in item:
        # "@<number>" stands for number text JSON itself cannot hold or Python would round (NaN, 1E+125)
        body = json.dumps(json.loads(good["body"]) | item["patch"])
        record["body"] = re.sub(r'"@([^"]*)"', r"\1", body)
    for name in item.get("omit", []):
        del record[name]
    record.update(item.get("record_set", {}))
    return record


def _work(records: list[Any]) -> dict[str, Any]:
    from central.aws.stream_pump import LocalLambdaContext

    context = LocalLambdaContext(function_name="ikr-account-worker")
    response: dict[str, Any] = account_worker.handler({"Records": records}, context)
    return response


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_every_malformed_sqs_record_is_logged_and_dropped_and_the_good_account_is_rotated(
    queued: Queued, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
):
    items = CORPUS["sqs_records"]
    records = [queued.good] + [_sqs_record(queued.good, item, number + 1) for number, item in enumerate(items)]

    response = _work(records)

    assert response == {"batchItemFailures": []}  # a retry cannot mend a malformed message
    dropped = _dropped(caplog, "not an account message; dropped")
    handled = _check_logged(items, {position - 1: reason for position, reason in dropped.items()})
    assert 0 not in dropped
    assert queued.alice_keys() == 2  # the good message of the same batch: alice rotated
    (emf,) = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    assert (emf["MessagesRejected"], emf["UsersRotated"]) == ([float(len(items))], [1.0])
    print(f"sqs record corpus items: {len(items)}, handled: {handled}")
    assert handled == len(items)


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_the_sqs_partial_batch_names_only_the_message_worth_retrying(
    queued: Queued, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    items = CORPUS["sqs_records"]
    records = [_sqs_record(queued.good, item, number) for number, item in enumerate(items)]
    prod = queued.world.account_ids["prod"]
    faults = Faults(monkeypatch)  # the account is throttled past every retry: a later delivery may pass
    faults.refuse("AssumeRole", code="Throttling", status=400, when=lambda params: f"::{prod}:" in params["RoleArn"])

    response = _work([*records, queued.good])
    faults.clear()

    assert response == {"batchItemFailures": [{"itemIdentifier": queued.good["messageId"]}]}
    dropped = _dropped(caplog, "not an account message; dropped")
    repeated = next(n for n, item in enumerate(items) if item.get("repeat_good_id"))
    # The message repeating the good one's id comes first here: it is worked, and the good one is the repeat.
    assert (
        _check_logged(
            [item for n, item in enumerate(items) if n != repeated],
            {position - (position > repeated): reason for position, reason in dropped.items() if position != repeated},
        )
        == len(items) - 1
    )
    assert "repeats" in dropped[len(items)]
    assert queued.alice_keys() == 1


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
@pytest.mark.parametrize("item", CORPUS["events"], ids=[item["id"] for item in CORPUS["events"]])
def test_an_event_that_is_not_an_account_batch_does_nothing(queued: Queued, item: dict[str, Any]):
    from central.aws.stream_pump import LocalLambdaContext

    context = LocalLambdaContext(function_name="ikr-account-worker")
    assert account_worker.handler(item["event"], context) == {"batchItemFailures": []}
    assert queued.alice_keys() == 1


# -- items in the expiry table ---------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_an_unusable_item_in_the_table_is_named_and_left_alone_and_the_user_still_rotated(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    from central.aws.stream_pump import LocalLambdaContext
    from tests.integration.conftest import TABLE

    world = _worker_world(central, monkeypatch)
    prod = world.account_ids["prod"]
    dynamodb = central.client("dynamodb")
    items = CORPUS["table_items"]
    for number, item in enumerate(items):
        raw = ExpiryItem(
            account_id=prod,
            user_name="alice",
            old_key_id=f"AKIACORPUS{number:010d}",
            state=State.SCHEDULED,
            started_at=epoch(LATER - timedelta(days=10)),
            expires_at=epoch(LATER - timedelta(days=1)),  # due: the sweep would remove a usable one
        ).to_item()
        dynamodb.put_item(TableName=TABLE, Item=raw | item["set"])

    result = rotator.handler({"source": "aws.events"}, LocalLambdaContext(function_name="ikr-rotator"))

    reasons = [str(r.__dict__.get("reason")) for r in caplog.records if r.getMessage() == "expiry item ignored"]
    handled = 0
    for number, item in enumerate(items):
        named = [reason for reason in reasons if f"account {prod} item alice#AKIACORPUS{number:010d}" in reason]
        assert named, f"{item['id']}: no log line names the item"
        assert all(words in named[0] for words in item["reason"]), (item["id"], named[0])
        handled += 1
    left = dynamodb.scan(TableName=TABLE)["Items"]
    assert sum(raw["item_key"]["S"].startswith("alice#AKIACORPUS") for raw in left) == len(items)  # none swept
    iam = world.session(prod).client("iam")
    assert len(iam.list_access_keys(UserName="alice")["AccessKeyMetadata"]) == 2  # alice still rotated
    (row,) = [account for account in result["accounts"] if account["account_id"] == prod]
    outcomes = [(user["user"], user["outcome"]) for user in row["users"]]
    assert (row["status"], outcomes) == ("done", [("alice", "rotated")])
    assert result["swept"] == 0
    print(f"table item corpus items: {len(items)}, handled: {handled}")
    assert handled == len(items)
