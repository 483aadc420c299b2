"""The bad-input corpus (`tests/data/bad_input.json`) against a whole Organization run and the
destructor: every item gets a message naming where it is (account, user, tag or field), nothing
bad is acted on, the good users of the same run are still rotated, and the exit code says 1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from central.clock import fixed_clock
from central.results import AccountStatus, Outcome
from central.run import run_rotation
from handlers import destructor
from tests.integration.conftest import RecordingMailer, make_harness
from tests.integration.destroy_scene import Scene
from tests.integration.fixtures_extra import (
    LATER,
    shared_botocore_loader,  # noqa: F401 - autouse: shared service models (speed)
)
from tests.support.world import AccountSpec, OrgSpec, UserSpec

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


def _stream_record(scene: Scene, spec: dict[str, Any], number: int) -> dict[str, Any]:
    old = scene.item.to_item()
    for name in spec.get("drop", []):
        old.pop(name)
    old.update(spec.get("set", {}))
    dynamodb: dict[str, Any] = {"SequenceNumber": str(number), "StreamViewType": "NEW_AND_OLD_IMAGES"}
    dynamodb["Keys"] = {"account_id": old.get("account_id", {"S": "?"}), "item_key": old.get("item_key", {"S": "?"})}
    image = spec["image"]
    if image in ("old", "both"):
        dynamodb["OldImage"] = old
    if image in ("new", "both"):
        dynamodb["NewImage"] = old
    if image == "garbage":
        dynamodb["OldImage"] = "not a map"
    record: dict[str, Any] = {
        "eventID": f"corpus-{number}",
        "eventName": spec["eventName"],
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": dynamodb,
    }
    if image == "no-dynamodb":
        del record["dynamodb"]
    return record


def _invoke(event: Any) -> dict[str, Any]:
    from central.stream_pump import LocalLambdaContext

    response: dict[str, Any] = destructor.handler(event, LocalLambdaContext())
    return response


@pytest.mark.usefixtures("handler_env")
@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_every_malformed_stream_record_is_logged_and_never_retried_and_the_good_one_is_acted_on(
    scene: Scene, caplog: pytest.LogCaptureFixture
):
    records = [_stream_record(scene, item["record"], number) for number, item in enumerate(CORPUS["stream_records"])]

    response = _invoke({"Records": records})

    assert response == {"batchItemFailures": []}  # a retry cannot mend a malformed record
    logged = {r.__dict__.get("event_id"): r.getMessage() for r in caplog.records if r.__dict__.get("event_id")}
    handled = 0
    for number, item in enumerate(CORPUS["stream_records"]):
        if item.get("logged"):
            assert logged.get(f"corpus-{number}") == item["logged"], item["id"]
        handled += 1
    # Only the REMOVE with extra attributes is a usable scheduled item: its old key is gone.
    assert scene.access_keys() == {scene.new}
    print(f"stream record corpus items: {len(CORPUS['stream_records'])}, handled: {handled}")


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
