"""`ikr restore` (issue 18.4) on moto with several accounts: the old key made Inactive by the
deactivate-before-delete step comes back, its retirement starts over N days later through the same
journal item, a repeat never postpones twice, and every refusal names what is wrong."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from central.aws.expiry_item import ExpiryItem, State, epoch
from central.aws.expiry_table import LeaseConflict
from central.aws.restore_table import RestoreTable
from central.clock import fixed_clock
from central.domain.errors import IkrError, UsageError
from central.notify.event_bus import build_event_notifier
from central.retirement.destroy import DestroyContext, Destroyed, destroy
from central.retirement.restore import RestoreRequest, request_from_event, restore, restore_from_event
from central.rotation.run import run_rotation
from tests.integration.conftest import Harness, make_harness
from tests.integration.event_consumer import LATER, SPEC, consumer, received
from tests.integration.fixtures_extra import (
    shared_botocore_loader,  # noqa: F401 - autouse: shared service models (speed)
)


@pytest.fixture
def harness(central: boto3.Session) -> Harness:
    harness = make_harness(central, SPEC, DEACTIVATE_BEFORE_DELETE_DAYS=2)
    harness.services.clock = fixed_clock(LATER)
    return harness


def retire_at(harness: Harness, moment: datetime) -> list[Destroyed]:
    """What the sweep and the destructor do at `moment`."""
    ctx = replace(DestroyContext.from_services(harness.services), now=moment)
    return [destroy(ctx, item).outcome for item in harness.table.sweep(moment)]


def keys(harness: Harness, account: str, user: str) -> dict[str, str]:
    listed = harness.world.iam(account).list_access_keys(UserName=user)["AccessKeyMetadata"]
    return {key["AccessKeyId"]: key["Status"] for key in listed}


def rotated_and_deactivated(harness: Harness) -> ExpiryItem:
    run_rotation(harness.services, only=[harness.world.account_ids["prod"]])
    assert retire_at(harness, LATER + timedelta(days=4)) == [Destroyed.DEACTIVATED]
    (item,) = harness.table.for_user(harness.world.account_ids["prod"], "ann")
    assert item.deactivated_at is not None
    assert keys(harness, "prod", "ann")[item.old_key_id] == "Inactive"
    return item


def ask(harness: Harness, user: str = "ann", account: str = "prod", **fields: Any) -> RestoreRequest:
    return RestoreRequest(harness.world.account_ids[account], user, by="test", **fields)


def test_restore_reactivates_the_inactive_old_key_and_its_retirement_starts_over_later(harness: Harness):
    item = rotated_and_deactivated(harness)
    deletion = item.expires_at  # day 4 + 2: when the Inactive key would have been deleted
    assert deletion is not None
    now = LATER + timedelta(days=5)
    harness.services.clock = fixed_clock(now)

    result = restore(harness.services, ask(harness, days=10, reason="CI still on the old key"))

    assert result.activated
    assert result.postponed
    assert result.until == datetime.fromtimestamp(deletion, UTC) + timedelta(days=10)
    assert keys(harness, "prod", "ann")[item.old_key_id] == "Active"
    (after,) = harness.table.for_user(harness.world.account_ids["prod"], "ann")
    assert after.state is State.SCHEDULED
    assert after.expires_at == epoch(result.until)
    assert after.deactivated_at is None
    assert after.restored is not None
    assert (after.restored.by, after.restored.reason, after.restored.days) == ("test", "CI still on the old key", 10)
    assert after.restored.at == epoch(now)
    # The old deletion time passes: nothing happens. At the new time the retirement runs again.
    assert retire_at(harness, datetime.fromtimestamp(deletion, UTC) + timedelta(hours=1)) == []
    assert retire_at(harness, result.until) == [Destroyed.DEACTIVATED]
    assert retire_at(harness, result.until + timedelta(days=2)) == [Destroyed.DELETED]
    assert item.old_key_id not in keys(harness, "prod", "ann")


def test_a_repeated_restore_does_not_postpone_twice(harness: Harness):
    rotated_and_deactivated(harness)
    harness.services.clock = fixed_clock(LATER + timedelta(days=5))
    first = restore(harness.services, ask(harness, days=10))
    harness.services.clock = fixed_clock(LATER + timedelta(days=5, minutes=3))  # the event delivered again

    again = restore(harness.services, ask(harness, days=10))

    assert again.until == first.until
    assert not again.postponed
    assert not again.activated
    (item,) = harness.table.for_user(harness.world.account_ids["prod"], "ann")
    assert item.expires_at == epoch(first.until)
    # A different number of days counts from the same base: it replaces, never adds up.
    longer = restore(harness.services, ask(harness, days=20))
    assert longer.until == first.until + timedelta(days=10)


def test_a_crash_between_the_write_and_the_activation_is_finished_by_the_same_restore(harness: Harness):
    item = rotated_and_deactivated(harness)
    harness.services.clock = fixed_clock(LATER + timedelta(days=5))
    first = restore(harness.services, ask(harness, days=10))
    harness.world.iam("prod").update_access_key(UserName="ann", AccessKeyId=item.old_key_id, Status="Inactive")

    again = restore(harness.services, ask(harness, days=10))

    assert again.activated
    assert not again.postponed
    assert again.until == first.until
    assert keys(harness, "prod", "ann")[item.old_key_id] == "Active"


def test_default_days_are_delete_after_days(harness: Harness):
    item = rotated_and_deactivated(harness)
    assert item.expires_at is not None
    result = restore(harness.services, ask(harness))
    days = harness.services.settings.DELETE_AFTER_DAYS
    assert result.until == max(datetime.fromtimestamp(item.expires_at, UTC), LATER) + timedelta(days=days)


def test_restore_is_published_as_an_event(harness: Harness, central: boto3.Session):
    url = consumer(central, {"source": ["ikr"], "detail-type": ["IKR Old Key Restored"]})
    item = rotated_and_deactivated(harness)
    harness.services.notifier = build_event_notifier(harness.services.settings, central, harness.services.clock)

    result = restore(harness.services, ask(harness, days=7, reason="rollback"))
    restore(harness.services, ask(harness, days=7, reason="rollback"))  # a repeat: no second event

    (event,) = received(central, url)
    detail = event["detail"]
    assert detail["event"] == "restored"
    assert (detail["account"], detail["user"], detail["old_key_id"]) == (item.account_id, "ann", item.old_key_id)
    assert detail["reason"] == "rollback"
    assert detail["at"] == result.until.isoformat()
    assert detail["details"]["by"] == "test"


# -- refusals ---------------------------------------------------------------------------------------------
def test_an_unknown_user_is_refused_by_name(harness: Harness):
    with pytest.raises(UsageError, match="has no IAM user nobody"):
        restore(harness.services, ask(harness, user="nobody"))


def test_a_user_without_a_pending_old_key_is_refused(harness: Harness):
    with pytest.raises(UsageError, match="no old key is waiting for deletion"):
        restore(harness.services, ask(harness, user="ben", account="dev"))


def test_a_user_of_another_account_is_not_found_there(harness: Harness):
    rotated_and_deactivated(harness)
    with pytest.raises(UsageError, match="has no IAM user ann"):
        restore(harness.services, ask(harness, account="dev"))


def test_a_key_already_deleted_is_refused(harness: Harness):
    item = rotated_and_deactivated(harness)
    assert retire_at(harness, LATER + timedelta(days=7)) == [Destroyed.DELETED]
    with pytest.raises(UsageError, match=f"{item.old_key_id}: the old key was already deleted at"):
        restore(harness.services, ask(harness))


def test_a_key_deleted_by_hand_is_refused(harness: Harness):
    item = rotated_and_deactivated(harness)
    harness.world.iam("prod").delete_access_key(UserName="ann", AccessKeyId=item.old_key_id)
    with pytest.raises(UsageError, match="already deleted"):
        restore(harness.services, ask(harness))


def test_an_exposed_key_needs_force(harness: Harness):
    item = rotated_and_deactivated(harness)
    harness.table.put(item.model_copy(update={"exposed_at": epoch(LATER)}))
    with pytest.raises(UsageError, match=r"exposed.*--force"):
        restore(harness.services, ask(harness))
    assert keys(harness, "prod", "ann")[item.old_key_id] == "Inactive"

    result = restore(harness.services, ask(harness, force=True, reason="the leak was a false alarm"))

    assert result.activated
    (after,) = harness.table.for_user(item.account_id, "ann")
    assert after.restored is not None
    assert after.restored.forced


def test_a_rotation_in_progress_is_refused(harness: Harness):
    item = rotated_and_deactivated(harness)
    journal = item.model_copy(update={"old_key_id": "AKIAJOURNAL000000000", "state": State.STARTED, "run_id": "r1"})
    harness.table.put(journal.model_copy(update={"expires_at": None, "restored": None}))
    with pytest.raises(IkrError, match="rotation in progress by run r1"):
        restore(harness.services, ask(harness))


def test_the_destructor_mid_deactivation_is_waited_for(harness: Harness):
    item = rotated_and_deactivated(harness)
    assert item.handling is not None
    harness.table.put(item.model_copy(update={"handling": item.handling.model_copy(update={"noticed_at": None})}))
    with pytest.raises(IkrError, match="destructor is retiring this key right now"):
        restore(harness.services, ask(harness))


def test_a_sweep_that_got_there_first_wins_and_the_restore_is_refused(harness: Harness):
    item = rotated_and_deactivated(harness)
    assert item.expires_at is not None
    harness.table.sweep(datetime.fromtimestamp(item.expires_at, UTC))  # removed: the destructor's turn
    updated = item.model_copy(update={"expires_at": item.expires_at + 86400})
    with pytest.raises(LeaseConflict):
        RestoreTable(harness.table).postpone(item, updated)
    with pytest.raises(UsageError):
        restore(harness.services, ask(harness))  # and nothing is pending any more


# -- the rotator Lambda's event ----------------------------------------------------------------------------
def test_the_event_restores_and_a_bad_event_is_refused_by_field(harness: Harness):
    item = rotated_and_deactivated(harness)
    account = item.account_id
    answer = restore_from_event(
        harness.services, {"ikr": "restore", "account": account, "user": "ann", "days": 3, "reason": "x"}, "lambda:t"
    )
    assert answer["restored"] is True
    assert answer["activated"] is True
    (after,) = harness.table.for_user(account, "ann")
    assert after.restored is not None
    assert after.restored.by == "lambda:t"

    refused = restore_from_event(harness.services, {"ikr": "restore", "account": account, "user": "nobody"}, "t")
    assert refused == {
        "restored": False,
        "refused": f"account {account} has no IAM user nobody (or is not an account ikr reaches)",
    }
    for bad, field in (
        ({"account": "12", "user": "ann"}, "account"),
        ({"account": account, "user": ""}, "user"),
        ({"account": account, "user": "ann", "days": 0}, "days"),
        ({"account": account, "user": "ann", "days": "5"}, "days"),
        ({"account": account, "user": "ann", "force": "yes"}, "force"),
    ):
        with pytest.raises(UsageError, match=f"restore event: {field}"):
            request_from_event(bad, "t")
