"""A process that dies in the middle of a rotation: the rerun finishes or undoes what it left, so
every user ends with the old key plus exactly one delivered new key, and nothing half-done stays."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import boto3
import pytest

from central.aws.expiry_item import State, from_epoch
from central.aws.ssm_secrets import pending_name
from central.domain.results import Outcome, RunResult
from central.notify.mailers.base import Mail
from central.retirement.destroy import DestroyContext, Destroyed, destroy
from central.rotation.run import run_rotation
from tests.integration.conftest import Harness, RecordingMailer
from tests.integration.faults import Crash, Faults, spread
from tests.integration.fixtures_extra import (
    after_lease,
    clean_harness,
    client,
    delivered_key_id,
    items,
    journal,
    key_ids,
    mails_to,
    pending_pair_exists,
    pending_parameter,
    shared_botocore_loader,  # noqa: F401 - autouse: shared service models (speed)
    ssm_parameter_exists,
    user_rows,
)

OTHERS = (("dev", "dave"), ("ops", "olga"))


def _alice(params) -> bool:
    return bool(params.get("UserName") == "alice")


def _assert_alice_rotated_once_after_recovery(harness: Harness, old: str, removed: str | None) -> None:
    after_lease(harness)
    result = run_rotation(harness.services)

    prod = harness.world.account_ids["prod"]
    outcomes = [entry.outcome for entry in user_rows(result, prod, "alice")]
    assert outcomes == [Outcome.RECOVERED, Outcome.ROTATED]
    recovered, rotated = user_rows(result, prod, "alice")
    if removed is not None:
        assert removed in recovered.detail
    assert rotated.new_key_id is not None
    assert key_ids(harness, "prod", "alice") == [old, rotated.new_key_id]
    (mail,) = mails_to(harness, "alice@example.com")
    assert delivered_key_id(harness, "prod", "alice", mail) == rotated.new_key_id
    (scheduled,) = [item for item in items(harness, "prod") if item.user_name == "alice"]
    assert scheduled.state is State.SCHEDULED
    assert scheduled.old_key_id == old
    assert journal(harness) == []
    assert result.exit_code == 0
    _assert_others_rotated_exactly_once(harness)


def _assert_others_rotated_exactly_once(harness: Harness) -> None:
    for account, user in OTHERS:
        assert len(key_ids(harness, account, user)) == 2
        assert len(mails_to(harness, f"{user}@example.com")) == 1
        assert [item.state for item in items(harness, account)] == [State.SCHEDULED]


def test_a_crash_right_after_create_access_key_leaves_a_key_ikr_cannot_prove_it_made_inactive_not_deleted(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch
):
    """The id never reached the journal: the rerun cannot tell ikr's key from one a person made, so it
    only makes the unused key inactive, schedules its deletion and says so; the user is pending."""
    harness = clean_harness(central)
    (old,) = key_ids(harness, "prod", "alice")
    faults = Faults(monkeypatch)
    faults.crash_after("CreateAccessKey", when=_alice)

    with pytest.raises(Crash):
        run_rotation(harness.services)
    faults.clear()

    (crashed,) = [r["AccessKey"]["AccessKeyId"] for r in faults.responses("CreateAccessKey") if _alice(r["AccessKey"])]
    assert key_ids(harness, "prod", "alice") == [old, crashed]  # the key exists, nobody has it
    (left,) = journal(harness)
    assert (left.user_name, left.state, left.new_key_id, left.known_keys) == ("alice", State.STARTED, None, (old,))
    assert mails_to(harness, "alice@example.com") == []

    within = run_rotation(harness.services)  # the crashed run's lease is still live
    (held,) = user_rows(within, harness.world.account_ids["prod"], "alice")
    assert held.outcome is Outcome.IN_PROGRESS
    assert f"rotation in progress by run {left.run_id} since" in held.detail
    assert within.exit_code == 0

    after_lease(harness)
    result = run_rotation(harness.services)

    undone, waiting = user_rows(result, harness.world.account_ids["prod"], "alice")
    assert undone.outcome is Outcome.FAILED  # a person is told: exit 1
    assert f"Key {crashed}" in undone.detail
    assert "made it Inactive (not deleted)" in undone.detail
    assert waiting.outcome is Outcome.PENDING
    assert "appeared during an interrupted rotation" in waiting.detail
    statuses = {
        k["AccessKeyId"]: k["Status"]
        for k in client(harness, "prod", "iam").list_access_keys(UserName="alice")["AccessKeyMetadata"]
    }
    assert statuses == {old: "Active", crashed: "Inactive"}
    (marker,) = [item for item in items(harness, "prod") if item.user_name == "alice"]
    assert (marker.state, marker.old_key_id, marker.unrecorded) == (State.SCHEDULED, crashed, True)
    assert journal(harness) == []
    (notice,) = mails_to(harness, "alice@example.com")
    assert "made inactive" in notice.subject
    assert crashed in notice.text
    _assert_others_rotated_exactly_once(harness)


def _assert_alice_resumed_with_the_same_key(harness: Harness, old: str, made: str, mails: int) -> None:
    """The rerun mails the key the crashed run made (again, if it had gone out) and schedules the
    old key: never a second new key, never a mailed key removed."""
    after_lease(harness)
    result = run_rotation(harness.services)

    prod = harness.world.account_ids["prod"]
    resumed, waiting = user_rows(result, prod, "alice")
    assert resumed.outcome is Outcome.RECOVERED
    assert resumed.new_key_id == made
    assert "resumed an interrupted rotation" in resumed.detail
    assert waiting.outcome is Outcome.PENDING
    assert key_ids(harness, "prod", "alice") == [old, made]
    sent = mails_to(harness, "alice@example.com")
    assert len(sent) == mails
    assert {delivered_key_id(harness, "prod", "alice", mail) for mail in sent} == {made}
    (scheduled,) = [item for item in items(harness, "prod") if item.user_name == "alice"]
    assert (scheduled.state, scheduled.old_key_id, scheduled.new_key_id) == (State.SCHEDULED, old, made)
    assert journal(harness) == []
    assert not pending_pair_exists(harness, "prod", "alice")
    assert result.exit_code == 0
    _assert_others_rotated_exactly_once(harness)


def _crash_after_alices_journal_reaches(harness: Harness, monkeypatch: pytest.MonkeyPatch, state: State) -> None:
    faults = Faults(monkeypatch)
    faults.crash_after(
        "PutItem", when=lambda p: p["Item"]["user_name"]["S"] == "alice" and p["Item"]["state"]["S"] == state
    )
    with pytest.raises(Crash):
        run_rotation(harness.services)
    faults.clear()


def test_a_crash_right_after_the_key_is_recorded_removes_that_undelivered_key_and_rotates_afresh(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch
):
    """The id is in the journal but the pair never reached the pending store, so no mail can have
    gone: the recorded key is provably ikr's and undelivered, and is removed."""
    harness = clean_harness(central)
    (old,) = key_ids(harness, "prod", "alice")
    _crash_after_alices_journal_reaches(harness, monkeypatch, State.KEY_CREATED)

    (left,) = journal(harness)
    assert (left.user_name, left.state) == ("alice", State.KEY_CREATED)
    assert left.new_key_id is not None
    assert key_ids(harness, "prod", "alice") == [old, left.new_key_id]
    assert not pending_pair_exists(harness, "prod", "alice")
    assert mails_to(harness, "alice@example.com") == []

    _assert_alice_rotated_once_after_recovery(harness, old, removed=left.new_key_id)


def test_a_crash_right_after_the_pending_pair_is_stored_mails_the_same_key_on_the_rerun(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch
):
    harness = clean_harness(central)
    (old,) = key_ids(harness, "prod", "alice")
    faults = Faults(monkeypatch)
    faults.crash_after("PutParameter", when=lambda p: p["Name"] == "/ikr/secret/iam/alice/pending")

    with pytest.raises(Crash):
        run_rotation(harness.services)
    faults.clear()

    (left,) = journal(harness)
    assert left.state is State.KEY_CREATED
    assert key_ids(harness, "prod", "alice") == [old, left.new_key_id]
    assert mails_to(harness, "alice@example.com") == []

    _assert_alice_resumed_with_the_same_key(harness, old, left.new_key_id or "", mails=1)


def test_a_crash_after_the_delivery_is_recorded_leaves_the_promised_deletion_and_no_second_mail(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch
):
    """Delivered and scheduled are one write, after the pair was replaced by its delivery's mark: a
    crash after it leaves nothing to resume and no secret; the destructor removes the mark together
    with the old key and the Fernet key."""
    harness = clean_harness(central)
    (old,) = key_ids(harness, "prod", "alice")
    _crash_after_alices_journal_reaches(harness, monkeypatch, State.SCHEDULED)
    (left,) = [item for item in items(harness, "prod") if item.user_name == "alice"]
    assert left.state is State.SCHEDULED
    assert left.expires_at == left.delete_at is not None
    assert not pending_pair_exists(harness, "prod", "alice")
    assert pending_parameter(harness, "prod", "alice") == {
        "AccessKeyId": left.new_key_id,
        "DeliveredDeleteAt": left.delete_at,
    }

    after_lease(harness)
    result = run_rotation(harness.services)

    (waiting,) = user_rows(result, harness.world.account_ids["prod"], "alice")
    assert waiting.outcome is Outcome.PENDING
    assert len(mails_to(harness, "alice@example.com")) == 1
    (scheduled,) = [item for item in items(harness, "prod") if item.user_name == "alice"]
    assert (scheduled.state, scheduled.expires_at) == (State.SCHEDULED, left.delete_at)
    assert key_ids(harness, "prod", "alice") == [old, left.new_key_id]

    harness.table.remove(scheduled)  # its time: TTL or the sweep removes it
    ctx = DestroyContext.from_services(harness.services)
    done = destroy(dataclasses.replace(ctx, now=from_epoch(left.delete_at) + timedelta(minutes=1)), scheduled)

    assert done.outcome is Destroyed.DELETED
    assert key_ids(harness, "prod", "alice") == [left.new_key_id]
    assert pending_parameter(harness, "prod", "alice") is None
    assert not ssm_parameter_exists(harness, "prod", "alice")


def test_a_crash_after_the_pair_is_replaced_by_its_mark_schedules_from_the_mark_without_a_second_mail(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch
):
    harness = clean_harness(central)
    (old,) = key_ids(harness, "prod", "alice")
    faults = Faults(monkeypatch)
    faults.crash_after(
        "PutParameter",
        when=lambda p: p["Name"] == "/ikr/secret/iam/alice/pending" and "DeliveredDeleteAt" in p["Value"],
    )
    with pytest.raises(Crash):
        run_rotation(harness.services)
    faults.clear()
    (left,) = journal(harness)
    assert left.state is State.KEY_CREATED
    mark = pending_parameter(harness, "prod", "alice")
    assert mark is not None
    assert mark["AccessKeyId"] == left.new_key_id

    after_lease(harness)
    result = run_rotation(harness.services)

    _assert_alice_finished_once(harness, result, old, left.new_key_id, mark["DeliveredDeleteAt"])


def test_a_delivered_journal_of_the_previous_version_schedules_the_promised_deletion_without_a_second_mail(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch
):
    """Before delivered and scheduled became one write, a run could die in `delivered` (with its pair
    still stored): such a journal is still finished, the pair dropped and the old key scheduled."""
    harness = clean_harness(central)
    (old,) = key_ids(harness, "prod", "alice")
    _crash_after_alices_journal_reaches(harness, monkeypatch, State.SCHEDULED)
    (scheduled,) = [item for item in items(harness, "prod") if item.user_name == "alice"]
    # As the previous version left it: delivered, no TTL, the pair still stored (a stand-in secret).
    left = scheduled.model_copy(update={"state": State.DELIVERED, "expires_at": None})
    harness.table.put(left)
    pair = json.dumps({"AccessKeyId": left.new_key_id, "SecretAccessKey": "stand-in-secret-of-forty-characters-000"})
    client(harness, "prod", "ssm").put_parameter(
        Name=pending_name("alice"), Value=pair, Type="SecureString", Overwrite=True
    )
    assert left.delete_at is not None
    assert pending_pair_exists(harness, "prod", "alice")

    after_lease(harness)
    result = run_rotation(harness.services)

    _assert_alice_finished_once(harness, result, old, left.new_key_id, left.delete_at)
    assert pending_parameter(harness, "prod", "alice") is None


def _assert_alice_finished_once(harness: Harness, result: RunResult, old: str, new: str | None, delete_at: int) -> None:
    """The interrupted rotation was finished without a second mail, the old key scheduled at the
    promised time, and no secret left in SSM."""
    finished, waiting = user_rows(result, harness.world.account_ids["prod"], "alice")
    assert finished.outcome is Outcome.RECOVERED
    assert waiting.outcome is Outcome.PENDING
    assert len(mails_to(harness, "alice@example.com")) == 1
    (scheduled,) = [item for item in items(harness, "prod") if item.user_name == "alice"]
    assert (scheduled.state, scheduled.expires_at, scheduled.delete_at) == (State.SCHEDULED, delete_at, delete_at)
    assert key_ids(harness, "prod", "alice") == [old, new]
    assert not pending_pair_exists(harness, "prod", "alice")


def test_a_crash_between_removing_an_undelivered_key_and_its_journal_is_finished(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch
):
    harness = clean_harness(central)
    (old,) = key_ids(harness, "prod", "alice")
    faults = Faults(monkeypatch)
    harness.mailer.down = True
    faults.crash_after("DeleteAccessKey", when=_alice)

    with pytest.raises(Crash):
        run_rotation(harness.services)
    faults.clear()
    harness.mailer.down = False

    (left,) = journal(harness)
    assert left.state is State.KEY_CREATED
    assert key_ids(harness, "prod", "alice") == [old]  # the undelivered key is gone, its journal is not

    after_lease(harness)
    result = run_rotation(harness.services)

    recovered, rotated = user_rows(result, harness.world.account_ids["prod"], "alice")
    assert recovered.outcome is Outcome.RECOVERED
    assert "removed no key" in recovered.detail
    assert rotated.outcome is Outcome.ROTATED
    assert key_ids(harness, "prod", "alice") == [old, rotated.new_key_id]
    assert journal(harness) == []


class DiesAfterSending(RecordingMailer):
    """Hands the mail over, then the process dies before the rotation is recorded."""

    def __init__(self, victim: str) -> None:
        super().__init__()
        self.victim = victim
        self.dying = True

    def send(self, mail: Mail) -> None:
        super().send(mail)
        if self.dying and mail.to == self.victim:
            raise Crash(f"process died right after mailing {mail.to}")


def _crash_right_after_mailing_alice(central: boto3.Session) -> tuple[Harness, DiesAfterSending, str, str]:
    """A run that dies right after alice's mail went out: the harness, its mailer, her old key, the mailed key."""
    harness = clean_harness(central)
    (old,) = key_ids(harness, "prod", "alice")
    mailer = DiesAfterSending("alice@example.com")
    harness.mailer = mailer
    harness.services.mailer = mailer
    with pytest.raises(Crash):
        run_rotation(harness.services)
    mailer.dying = False
    (first_mail,) = mails_to(harness, "alice@example.com")
    return harness, mailer, old, delivered_key_id(harness, "prod", "alice", first_mail)


def test_a_crash_right_after_the_mail_mails_the_same_key_again_and_keeps_it(central: boto3.Session):
    """The journal cannot know whether the mail went out before the process died, so the rerun
    sends the same pair again: the user may get it twice, but never loses the key they were sent."""
    harness, _, old, mailed = _crash_right_after_mailing_alice(central)

    (left,) = journal(harness)
    assert (left.state, left.new_key_id) == (State.KEY_CREATED, mailed)

    _assert_alice_resumed_with_the_same_key(harness, old, mailed, mails=2)


def test_throttling_absorbed_by_botocore_retries_rotates_every_due_user_exactly_once(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch
):
    harness = clean_harness(central)
    old = {user: key_ids(harness, account, user)[0] for account, user in (("prod", "alice"), *OTHERS)}
    faults = Faults(monkeypatch)
    throttle = faults.throttle(spread(3, 10))  # 30% of the requests, retries included

    # One account at a time: the pattern counts requests in the order they are sent, and accounts
    # worked at once interleave theirs differently from run to run (then no STS request may be hit).
    result = run_rotation(harness.services, concurrency=1)
    faults.clear()

    assert len(throttle.throttled) >= 0.25 * throttle.sent
    assert {entry.split(":")[0] for entry in throttle.throttled} >= {"iam", "dynamodb", "sts", "organizations"}
    assert len(throttle.sleeps) == len(throttle.throttled)  # each one retried after a back-off
    assert result.exit_code == 0
    ids = harness.world.account_ids
    for account, user in (("prod", "alice"), *OTHERS):
        (entry,) = user_rows(result, ids[account], user)
        assert entry.outcome is Outcome.ROTATED
        assert key_ids(harness, account, user) == [old[user], entry.new_key_id]
        (mail,) = mails_to(harness, f"{user}@example.com")
        assert delivered_key_id(harness, account, user, mail) == entry.new_key_id
        (scheduled,) = [item for item in items(harness, account) if item.user_name == user]
        assert scheduled.state is State.SCHEDULED
    assert journal(harness) == []


def test_a_mailed_key_is_kept_when_its_re_delivery_after_a_crash_fails(central: boto3.Session):
    """The crashed run mailed the key; the rerun cannot mail it again (mail down). Removing the key
    now could lock out the user who has it: it stays, with its journal, until a run delivers it."""
    harness, mailer, old, mailed = _crash_right_after_mailing_alice(central)

    mailer.down = True
    after_lease(harness)
    result = run_rotation(harness.services)
    mailer.down = False

    prod = harness.world.account_ids["prod"]
    (row,) = user_rows(result, prod, "alice")  # the recovery's row only: her journal still speaks for her
    assert row.outcome is Outcome.FAILED
    assert "kept and the next run delivers it again" in row.detail
    assert result.exit_code == 1
    assert key_ids(harness, "prod", "alice") == [old, mailed]  # the mailed key survived
    (left,) = journal(harness)
    assert (left.state, left.new_key_id) == (State.KEY_CREATED, mailed)
    assert pending_pair_exists(harness, "prod", "alice")

    _assert_alice_resumed_with_the_same_key(harness, old, mailed, mails=2)
