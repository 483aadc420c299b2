"""An exposed key (AWS Health's AWS_RISK_CREDENTIALS_EXPOSED) across several accounts on moto.

The event is `tests/data/health_credentials_exposed.json` (where its shape comes from: the README
beside it) with a real account and key id put in, handed to the rotator Lambda's handler or to the
use case (`central.rotation.exposure`).
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from central.aws.expiry_item import ExpiryItem, State, epoch, from_epoch
from central.aws.stream_pump import LocalLambdaContext
from central.domain.exposure import parse_exposure
from central.notify.notice import Event
from central.retirement.destroy import DestroyContext, Destroyed, destroy
from central.rotation.exposure import ExposureNotFinished, Handled, handle_exposure
from central.rotation.on_demand import OnDemand, rotate_on_demand
from handlers import rotator
from tests.integration.conftest import TABLE, Harness
from tests.support.notices import RecordingNotifier

SAMPLE = Path(__file__).parents[1] / "data" / "health_credentials_exposed.json"


def health_event(account_id: str, key_id: str) -> dict[str, Any]:
    text = SAMPLE.read_text().replace("ACCOUNT_ID", account_id).replace("ACCESS_KEY_ID", key_id)
    return dict(json.loads(text.replace("USER_NAME", "someone")))


@pytest.fixture
def world(harness: Harness) -> Harness:
    harness.settings(ADMIN_EMAIL="admin@example.com")
    harness.services.notifier = RecordingNotifier()
    return harness


def notifier(harness: Harness) -> RecordingNotifier:
    assert isinstance(harness.services.notifier, RecordingNotifier)
    return harness.services.notifier


def iam(harness: Harness, account: str) -> Any:
    return harness.world.session(harness.world.account_ids[account]).client("iam")


def keys(harness: Harness, account: str, user: str) -> dict[str, str]:
    listed = iam(harness, account).list_access_keys(UserName=user)["AccessKeyMetadata"]
    return {key["AccessKeyId"]: key["Status"] for key in sorted(listed, key=lambda key: key["CreateDate"])}


def expose(harness: Harness, account: str, key_id: str) -> list[Any]:
    event = health_event(harness.world.account_ids[account], key_id)
    return handle_exposure(harness.services, parse_exposure(event))


def item_of(harness: Harness, account: str, user: str, key_id: str) -> ExpiryItem:
    found = harness.table.get(harness.world.account_ids[account], f"{user}#{key_id}")
    assert found is not None
    return found


def test_the_only_key_is_rotated_now_made_inactive_and_deleted_after_a_day(world: Harness) -> None:
    (exposed,) = keys(world, "prod", "alice")
    before = datetime.now(UTC)

    (handled,) = expose(world, "prod", exposed)

    assert handled.outcome is Handled.ROTATED, handled.detail
    now_keys = keys(world, "prod", "alice")
    assert now_keys[exposed] == "Inactive"
    (new_key,) = (key for key in now_keys if key != exposed)
    assert now_keys[new_key] == "Active"
    assert handled.new_key_id == new_key
    item = item_of(world, "prod", "alice", exposed)
    assert item.state is State.SCHEDULED
    assert (item.reason, item.delete_after_days) == ("exposed", 1)
    assert item.exposed_at is not None
    assert item.deactivated_at is not None
    assert item.expires_at is not None
    assert before + timedelta(days=1) - timedelta(minutes=1) <= from_epoch(item.expires_at)
    assert from_epoch(item.expires_at) <= datetime.now(UTC) + timedelta(days=1)  # not prod's 3 days
    # Told: the user (the new key, then what happened), the administrator, and the notifier.
    subjects = {(mail.to, mail.subject) for mail in world.mailer.sent}
    assert ("alice@example.com", f"Your AWS access key {exposed} was exposed") in subjects
    assert ("admin@example.com", f"[ikr] exposed key {exposed} handled") in subjects
    told = next(mail for mail in world.mailer.sent if mail.subject == f"Your AWS access key {exposed} was exposed")
    assert "https://github.com/example-org/example-repo" in told.text  # where it was found
    assert f"AttributeKey=AccessKeyId,AttributeValue={exposed}" in told.text  # what to check
    assert "aws iam list-attached-user-policies --user-name alice" in told.text
    (notice,) = notifier(world).of(Event.EXPOSURE_HANDLED)
    assert (notice.account_id, notice.user, notice.old_key_id, notice.new_key_id) == (
        world.world.account_ids["prod"],
        "alice",
        exposed,
        new_key,
    )
    (rotated,) = notifier(world).of(Event.ROTATED)
    assert rotated.details["reason"] == "exposed"

    # The destructor deletes it when its day is over (no deactivation first, no wait for the new key).
    later = datetime.now(UTC) + timedelta(days=1, minutes=5)
    (swept,) = world.table.sweep(later)
    ctx = DestroyContext.from_services(world.services)
    result = destroy(dataclasses.replace(ctx, now=later), swept)
    assert result.outcome is Destroyed.DELETED
    assert list(keys(world, "prod", "alice")) == [new_key]


def test_a_repeated_event_does_nothing_new(world: Harness) -> None:
    (exposed,) = keys(world, "prod", "alice")
    expose(world, "prod", exposed)
    sent, told, state = len(world.mailer.sent), len(notifier(world).notices), keys(world, "prod", "alice")
    item = item_of(world, "prod", "alice", exposed)

    (again,) = expose(world, "prod", exposed)

    assert again.outcome is Handled.ALREADY_HANDLED
    assert keys(world, "prod", "alice") == state
    assert item_of(world, "prod", "alice", exposed) == item
    assert (len(world.mailer.sent), len(notifier(world).notices)) == (sent, told)


def test_an_old_key_ikr_already_rotated_is_made_inactive_and_its_deletion_moved_earlier(world: Harness) -> None:
    (old,) = keys(world, "prod", "bob")
    rotate_on_demand(world.services, OnDemand(account_id=world.world.account_ids["prod"], user="bob", reason="x"))
    scheduled = item_of(world, "prod", "bob", old)
    assert scheduled.expires_at is not None
    assert from_epoch(scheduled.expires_at) > datetime.now(UTC) + timedelta(days=2)  # prod's 3 days
    before = keys(world, "prod", "bob")

    (handled,) = expose(world, "prod", old)

    assert handled.outcome is Handled.QUARANTINED, handled.detail
    after = keys(world, "prod", "bob")
    assert list(after) == list(before)  # no second rotation
    assert after[old] == "Inactive"
    item = item_of(world, "prod", "bob", old)
    assert item.expires_at is not None
    assert from_epoch(item.expires_at) <= datetime.now(UTC) + timedelta(days=1)
    assert item.reason == "x"  # the rotation's own reason stays; exposed_at says what happened since
    assert item.exposed_at is not None
    assert len(notifier(world).of(Event.EXPOSURE_HANDLED)) == 1


def test_one_of_two_keys_is_scheduled_beside_the_other(world: Harness) -> None:
    first, second = keys(world, "dev", "erin")

    (handled,) = expose(world, "dev", first)

    assert handled.outcome is Handled.QUARANTINED, handled.detail
    assert keys(world, "dev", "erin") == {first: "Inactive", second: "Active"}
    item = item_of(world, "dev", "erin", first)
    assert (item.state, item.new_key_id, item.reason, item.email) == (
        State.SCHEDULED,
        second,
        "exposed",
        "erin@example.com",
    )
    assert item.deactivated_at is not None


def test_an_already_inactive_key_is_scheduled_without_a_change(world: Harness) -> None:
    first, second = keys(world, "dev", "erin")
    iam(world, "dev").update_access_key(UserName="erin", AccessKeyId=first, Status="Inactive")

    (handled,) = expose(world, "dev", first)

    assert handled.outcome is Handled.QUARANTINED
    assert keys(world, "dev", "erin") == {first: "Inactive", second: "Active"}
    assert item_of(world, "dev", "erin", first).exposed_at is not None


def test_an_inactive_only_key_is_left_and_the_administrator_told(world: Harness) -> None:
    (only,) = keys(world, "dev", "dave")
    iam(world, "dev").update_access_key(UserName="dave", AccessKeyId=only, Status="Inactive")

    (handled,) = expose(world, "dev", only)

    assert handled.outcome is Handled.KEPT
    assert world.table.for_user(world.world.account_ids["dev"], "dave") == []
    assert [mail.subject for mail in world.mailer.sent] == [f"[ikr] exposed key {only} NOT handled (kept)"]


def test_the_only_active_key_of_two_is_not_made_inactive(world: Harness) -> None:
    first, second = keys(world, "dev", "erin")
    iam(world, "dev").update_access_key(UserName="erin", AccessKeyId=second, Status="Inactive")

    (handled,) = expose(world, "dev", first)

    assert handled.outcome is Handled.KEPT
    assert keys(world, "dev", "erin") == {first: "Active", second: "Inactive"}


@pytest.mark.parametrize(("account", "user"), [("prod", "untagged"), ("sandbox", "sam")])
def test_a_user_ikr_does_not_manage_is_left_alone_and_the_administrator_told(
    world: Harness, account: str, user: str
) -> None:
    client = iam(world, account)
    if not keys(world, account, user):
        client.create_access_key(UserName=user)
    (exposed,) = keys(world, account, user)

    (handled,) = expose(world, account, exposed)

    assert handled.outcome is Handled.NOT_MANAGED
    assert keys(world, account, user) == {exposed: "Active"}
    (mail,) = world.mailer.sent
    assert mail.to == "admin@example.com"
    assert mail.subject == f"[ikr] exposed key {exposed} NOT handled (not-managed)"
    assert "make the key Inactive by hand" in mail.text or "not worked by ikr" in mail.text


def test_an_unknown_key_id_is_told_to_the_administrator(world: Harness) -> None:
    (handled,) = expose(world, "prod", "AKIAUNKNOWN000000000")
    assert handled.outcome is Handled.UNKNOWN_KEY
    assert "cannot be found" in handled.detail
    assert world.table.for_account(world.world.account_ids["prod"]) == []


def test_a_rotation_in_progress_makes_the_event_come_back(world: Harness) -> None:
    (exposed,) = keys(world, "prod", "alice")
    world.table.begin(
        ExpiryItem(
            account_id=world.world.account_ids["prod"],
            user_name="alice",
            old_key_id="AKIAOTHER00000000000",
            state=State.STARTED,
            started_at=epoch(datetime.now(UTC)),
            run_id="other.abc",
            lease_until=epoch(datetime.now(UTC) + timedelta(minutes=20)),
        )
    )
    with pytest.raises(ExposureNotFinished, match="in progress"):
        expose(world, "prod", exposed)
    assert keys(world, "prod", "alice") == {exposed: "Active"}


def test_the_rotator_lambda_takes_the_health_event(world: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IAM_KEY_ROTATOR_TABLE", TABLE)
    monkeypatch.setenv("MAIL_FROM", "ikr@example.com")
    world.world.central.client("ses").verify_email_identity(EmailAddress="ikr@example.com")
    (exposed,) = keys(world, "prod", "alice")
    context = LocalLambdaContext(function_name="ikr-rotator")

    answer = rotator.handler(health_event(world.world.account_ids["prod"], exposed), context)

    assert answer["account"] == world.world.account_ids["prod"]
    (key,) = answer["keys"]
    assert (key["key_id"], key["user"], key["outcome"]) == (exposed, "alice", "rotated")
    assert json.dumps(answer)
    assert keys(world, "prod", "alice")[exposed] == "Inactive"

    malformed = health_event(world.world.account_ids["prod"], exposed)
    del malformed["detail"]["affectedEntities"]
    assert rotator.handler(malformed, context) == {
        "error": f"AWS_RISK_CREDENTIALS_EXPOSED event for account {world.world.account_ids['prod']}: "
        "no `detail.affectedEntities`"
    }


def test_the_rotator_lambda_rotates_on_demand(world: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IAM_KEY_ROTATOR_TABLE", TABLE)
    monkeypatch.setenv("MAIL_FROM", "ikr@example.com")
    world.world.central.client("ses").verify_email_identity(EmailAddress="ikr@example.com")
    prod = world.world.account_ids["prod"]
    context = LocalLambdaContext(function_name="ikr-rotator")

    answer = rotator.handler({"ikr": "rotate", "account": prod, "user": "alice", "reason": "offboarding"}, context)

    (row,) = answer["accounts"]
    (alice,) = row["users"]
    assert (alice["user"], alice["outcome"]) == ("alice", "rotated")
    assert alice["detail"].startswith("on demand (offboarding): new key ")
    assert len(keys(world, "prod", "alice")) == 2
    refused = rotator.handler({"ikr": "rotate", "account": prod, "user": "untagged", "reason": "x"}, context)
    assert refused == {"refused": f"account {prod} user untagged is not opted in: it has no IKR:EMAIL tag"}
    bad = rotator.handler({"ikr": "rotate", "account": "12", "usr": "alice", "reason": ""}, context)
    assert bad["refused"].startswith("not a rotate event: account: String should match pattern")
    assert "usr: Extra inputs are not permitted" in bad["refused"]


def test_the_report_shows_on_demand_rotations_and_exposed_keys(world: Harness) -> None:
    from central.report.collect import collect_report
    from central.report.render_html import render_html
    from central.report.render_text import render_csv, render_json, render_table

    prod = world.world.account_ids["prod"]
    (bob_old,) = keys(world, "prod", "bob")
    rotate_on_demand(world.services, OnDemand(account_id=prod, user="bob", reason="audit 7"))
    (alice_old,) = keys(world, "prod", "alice")
    expose(world, "prod", alice_old)

    report = collect_report(world.services)

    table, csv_text, html = render_table(report), render_csv(report), render_html(report)
    assert "on demand and exposed keys:" in table
    assert f"account {prod} user bob: old key {bob_old} on demand (audit 7); deleted at " in table
    assert f"account {prod} user alice: old key {alice_old} on demand (exposed) exposed " in table
    assert f"{bob_old} scheduled deleted at " in csv_text
    assert "on demand (audit 7)" in csv_text
    assert "<h2>On demand and exposed keys</h2>" in html
    assert "on demand (exposed) exposed " in html
    rows = {row["user"]: row for row in json.loads(render_json(report))["rows"] if row.get("user")}
    (pending,) = rows["alice"]["pending"]
    assert pending["rotation_reason"] == "exposed"
    assert pending["exposed_at"]
    (bob_pending,) = rows["bob"]["pending"]
    assert "exposed_at" not in bob_pending  # absent, not null: a report without exposures reads as before


def test_the_item_written_beside_the_other_key_is_an_ordinary_old_key(world: Harness) -> None:
    """No new item kind: the scheduled run sees the user as pending, the sweep and the destructor
    retire the exposed key at its time and leave the other key."""
    from central.rotation.run import run_rotation

    first, second = keys(world, "dev", "erin")
    expose(world, "dev", first)

    run = run_rotation(world.services, only=[world.world.account_ids["dev"]])
    (row,) = run.accounts
    erin = next(user for user in row.users if user.user == "erin")
    assert erin.outcome.value == "pending"
    assert first in erin.detail

    later = datetime.now(UTC) + timedelta(days=1, minutes=5)
    (swept,) = world.table.sweep(later)
    assert swept.old_key_id == first
    result = destroy(dataclasses.replace(DestroyContext.from_services(world.services), now=later), swept)
    assert result.outcome is Destroyed.DELETED
    assert keys(world, "dev", "erin") == {second: "Active"}
