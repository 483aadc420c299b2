"""The report's pure side: the policy's own decisions turned into rows, next actions, counts."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from central.aws.expiry_item import ExpiryItem, State, epoch, pending_old_keys
from central.domain.model import KeyStatus
from central.domain.policy import Action
from central.domain.scope import resolve
from central.domain.sources import Source
from central.report.build import AccountData, account_rows, origin
from central.report.rows import Origin, Report, ReportRow, RowKind, schema_text
from tests.support.report_sample import NOW, PROD, WORKLOADS, key, sample_report, scope_of, user
from tests.unit.factories import account, ou, root

SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "report.schema.json"


def rows_by_user(report: Report) -> dict[str, ReportRow]:
    return {row.user: row for row in report.rows if row.user}


def origins(row: ReportRow) -> tuple[tuple[int, Origin], tuple[int, Origin]]:
    assert row.rotate_after is not None
    assert row.delete_after is not None
    return (row.rotate_after.days, row.rotate_after.origin), (row.delete_after.days, row.delete_after.origin)


def test_every_source_of_scope_and_policy_has_its_origin():
    # GIVEN an account whose days come from each kind of scope (texts made by central.domain.scope itself)
    path = (root({"IKR:ROTATE_AFTER_DAYS": "9"}), ou("ou-ab12-a", "A", {"IKR:DELETE_AFTER_DAYS": "2"}))
    from_ou_and_root = resolve(account({"IKR:ENABLED": "true"}, path=path), 85, 5)
    from_account = resolve(account({"IKR:ROTATE_AFTER_DAYS": "7"}, path=path), 85, 5)
    from_settings = resolve(account(path=(root(),)), 85, 5)

    # THEN each source maps to its kind; the placeholder of `ikr tag-users` is refused, not guessed
    assert origin(from_ou_and_root.rotate_after.source) is Origin.ROOT_TAG
    assert origin(from_ou_and_root.delete_after.source) is Origin.OU_TAG
    assert origin(from_account.rotate_after.source) is Origin.ACCOUNT_TAG
    assert origin(from_settings.rotate_after.source) is Origin.DEFAULT
    assert origin(Source.user_tag("IKR:ROTATE_AFTER_DAYS")) is Origin.USER_TAG
    with pytest.raises(ValueError, match="never reported"):
        origin(Source.unset())


def test_rows_carry_the_decision_its_date_and_where_each_number_came_from():
    rows = rows_by_user(sample_report())

    alice, bob, carol, dave = rows["alice"], rows["bob"], rows["carol"], rows["dave"]
    # due 39 days ago (more than 60 whole days old, as the original counts): rotated by the next run, and overdue
    assert (alice.decision, alice.next_action_at, alice.overdue) == (Action.ROTATE, NOW, True)
    assert alice.due_at == NOW - timedelta(days=39)
    assert origins(alice) == ((60, Origin.OU_TAG), (3, Origin.ACCOUNT_TAG))
    assert alice.keys[0].last_used == NOW - timedelta(days=2)
    assert alice.keys[0].last_used_service == "s3"
    # her own tag: 200 days, due once the key is more than 200 whole days old (its 201st day)
    assert (bob.decision, origins(bob)[0], bob.overdue) == (Action.NOT_DUE, (200, Origin.USER_TAG), False)
    assert bob.next_action_at == NOW + timedelta(days=101)
    # a bad tag: skipped, needs a person
    assert (carol.decision, carol.problem, carol.next_action_at) == (Action.SKIP, True, None)
    # the old key waits: its deletion time, the item's attempts
    assert dave.decision is Action.PENDING
    assert dave.next_action == "delete old key AKIADAVEOLD000000001"
    assert dave.next_action_at == NOW + timedelta(days=2)
    assert [(p.old_key_id, p.state, p.attempts) for p in dave.pending] == [("AKIADAVEOLD000000001", "scheduled", 1)]


def test_summary_counts_accounts_users_and_failures():
    summary = sample_report().summary

    assert (summary.accounts, summary.opted_in, summary.not_opted_in, summary.unreachable) == (5, 2, 1, 2)
    assert (summary.managed_users, summary.due_now, summary.overdue) == (5, 1, 1)
    assert (summary.pending_deletions, summary.unmanaged_risk) == (1, 1)
    assert summary.failures == 3  # carol's tag, the unreachable account, the bad IKR:ENABLED


def _item(state: State, expires_days: float | None, **extra: object) -> ExpiryItem:
    return ExpiryItem(
        account_id=PROD,
        user_name="dave",
        old_key_id="AKIADAVEOLD000000001",
        state=state,
        started_at=epoch(NOW - timedelta(days=10)),
        expires_at=None if expires_days is None else epoch(NOW + timedelta(days=expires_days)),
        **extra,
    )


def _dave_row(*items: ExpiryItem, deactivate_days: int = 0):
    dave = user("dave", key("AKIADAVEOLD000000001", 70), key("AKIADAVENEW000000001", 1), IKR_EMAIL="d@example.com")
    data = AccountData(managed=[dave], items=list(items), deactivate_days=deactivate_days)
    return account_rows(scope_of(PROD, "prod", WORKLOADS), data, NOW)[0]


def test_old_key_past_its_deletion_by_more_than_a_day_is_overdue():
    assert _dave_row(_item(State.SCHEDULED, -3)).overdue is True
    assert _dave_row(_item(State.SCHEDULED, -0.5)).overdue is False


def test_a_given_up_deletion_needs_a_person():
    row = _dave_row(_item(State.FAILED, None, attempts=10, last_error="AccessDenied"))

    assert row.decision is Action.PENDING
    assert row.problem is True
    assert row.next_action.startswith("none: deletion of old key AKIADAVEOLD000000001 given up after 10")
    assert row.pending[0].last_error == "AccessDenied"


def test_with_deactivation_first_the_next_step_is_making_the_old_key_inactive():
    assert _dave_row(_item(State.SCHEDULED, 1), deactivate_days=7).next_action.startswith(
        "make old key AKIADAVEOLD000000001 inactive"
    )
    deactivated = _item(State.SCHEDULED, 1, deactivated_at=epoch(NOW - timedelta(days=6)))
    assert _dave_row(deactivated, deactivate_days=7).next_action == "delete old key AKIADAVEOLD000000001"


def test_an_interrupted_rotation_is_finished_by_the_next_run():
    row = _dave_row(_item(State.KEY_CREATED, None, new_key_id="AKIADAVENEW000000001"))

    assert row.next_action == "finish or undo an interrupted rotation"
    assert row.pending[0].state == "key-created"


def test_pending_old_keys_takes_scheduled_and_failed_items_only():
    items = [_item(State.SCHEDULED, 1), _item(State.STARTED, None), _item(State.FAILED, None)]

    pending = pending_old_keys(items, NOW)["dave"]
    assert [p.key_id for p in pending] == ["AKIADAVEOLD000000001"] * 2
    assert [p.gave_up for p in pending] == [False, True]  # in the order given: the failed item is given up


def test_an_opted_in_account_without_managed_users_still_has_its_row():
    rows = account_rows(scope_of(PROD, "prod", WORKLOADS), AccountData(managed=[]), NOW)

    assert [row.kind for row in rows] == [RowKind.NO_MANAGED_USERS]


def test_an_inactive_old_key_is_no_unmanaged_risk_reason():
    untagged = user("old", key("AKIAOLD0000000000001", 400, KeyStatus.INACTIVE), key("AKIANEW0000000000001", 400))
    row = account_rows(scope_of(PROD, "prod", WORKLOADS), AccountData(managed=[], unmanaged=[untagged]), NOW)[1]

    assert row.kind is RowKind.UNMANAGED_RISK
    assert "AKIANEW0000000000001 is 400 days old" in row.reason


def test_the_committed_json_schema_is_the_models_schema():
    # regenerate with: .venv/bin/python -m central.report.rows > docs/report.schema.json
    assert SCHEMA.read_text(encoding="utf-8") == schema_text()


def test_the_json_output_reads_back_as_the_same_report():
    report = sample_report()

    assert Report.model_validate_json(report.model_dump_json()) == report
