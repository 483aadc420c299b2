"""`ikr explain`: each step of the tag chain shows every scope's value and marks the one in force."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from central.domain.model import Account
from central.domain.scope import resolve
from central.report.collect import UserFacts
from central.report.explain import USED, explain, explain_lines
from tests.support.report_sample import NOW, ROOT, SANDBOX_OU, WORKLOADS, key, tags, user

ACCOUNT = "111122223333"


def facts(person, account_tags=None, unit=WORKLOADS, **extra):
    account = Account(id=ACCOUNT, name="prod", tags=tags(**(account_tags or {})), path=(ROOT, unit))
    scope = resolve(account, 85, 5)
    return UserFacts(scope, False, person if scope.enabled else None, None, [], [], **extra)


def lines_of(found, name="alice"):
    return explain_lines(explain(found, name, NOW, 85, 5))


def line_with(lines, start):
    found = [line.strip() for line in lines if line.strip().startswith(start)]
    assert found, f"no line starting {start!r} in:\n" + "\n".join(lines)
    return found


def test_a_user_tag_wins_and_an_invalid_nearer_value_is_skipped():
    # GIVEN alice's own rotate days, an account tag that is not a number, and an OU default
    alice = user("alice", key("AKIAALICE00000000001", 100), IKR_EMAIL="alice@example.com", IKR_ROTATE_AFTER_DAYS="30")
    lines = lines_of(facts(alice, {"IKR_DELETE_AFTER_DAYS": "ten"}))

    # THEN rotate: the user tag is in force; delete: the bad account value is shown, skipped, the setting used
    rotate = line_with(lines, "user tag: '30'")
    assert rotate[0].endswith(USED)
    assert any("'ten' (invalid" in line for line in lines)
    assert line_with(lines, "setting DELETE_AFTER_DAYS: 5")[0].endswith(USED)
    assert "=> 30 days, from user tag" in [line.strip() for line in lines]
    assert line_with(lines, "OU ou-ab12-work (Workloads): 'true'")[0].endswith(USED)  # opt-in
    assert "9. Decision: ROTATE" in lines


def test_ou_default_in_force_and_the_decision_is_the_policys():
    alice = user("alice", key("AKIAALICE00000000001", 20), IKR_EMAIL="alice@example.com")
    lines = lines_of(facts(alice))

    assert line_with(lines, "OU ou-ab12-work (Workloads): '60'")[0].endswith(USED)
    decision = [line for line in lines if "Decision:" in line]
    assert decision == ["9. Decision: NOT-DUE"]
    assert "next: rotate key AKIAALICE00000000001 at 2027-04-11 12:00 UTC" in [line.strip() for line in lines]


def test_an_account_not_opted_in_is_never_entered():
    lines = lines_of(facts(None, unit=SANDBOX_OU))

    assert "=> not opted in (no IKR:ENABLED tag on the account or any parent): ikr never enters this account" in [
        line.strip() for line in lines
    ]
    assert lines[-2] == "3. Decision: NONE"


def test_a_user_without_ikr_email_is_not_managed_and_its_risk_is_named():
    lines = lines_of(facts(user("ci", key("AKIACI00000000000001", 90))), name="ci")

    assert "6. Decision: NOT MANAGED (no IKR:EMAIL tag)" in lines
    assert any(
        "active key AKIACI00000000000001 is 90 days old, older than the policy's 60 days" in line for line in lines
    )


def test_notes_say_what_could_not_be_read():
    alice = user("alice", key("AKIAALICE00000000001", 20), IKR_EMAIL="alice@example.com")
    without_report = replace(facts(alice), notes=["credential report not read (AccessDenied)"])

    lines = lines_of(without_report)

    assert lines[-2:] == ["10. Notes", "   credential report not read (AccessDenied)"]


def test_the_delivery_step_says_where_the_key_goes_and_whether_use_is_verified():
    from central.report.explain import _delivery
    from central.report.rows import AccountState, PendingRow, ReportRow, RowKind

    row = ReportRow(
        kind=RowKind.MANAGED,
        account_id="111122223333",
        account_name="prod",
        account_state=AccountState.OPTED_IN,
        user="deployer",
        email="platform@example.com",
        delivery="secretsmanager:ikr/ci/deployer",
        verify_use=True,
        pending=[
            PendingRow(
                old_key_id="AKIAOLD",
                state="scheduled",
                waiting_for_use_since=datetime(2027, 3, 2, 12, tzinfo=UTC),
            )
        ],
    )

    step = _delivery(row)

    assert (
        step.lines[0]
        == "delivery: secretsmanager:ikr/ci/deployer (written in the user's own account; the owner is told)"
    )
    assert step.lines[1].startswith("verify use: yes")
    assert step.lines[2] == "old key AKIAOLD: the new key was not yet in use at 2027-03-02 12:00 UTC"
