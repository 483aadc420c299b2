"""The Organization's management account, where StackSets never put the member role: a run and the
report that find it opted in but refused tell it once as the account's reason ("not deployed: run
`ikr deploy --management-account`"), not as a failure (exit 0, no failure counted); any other failure
there (a throttle) stays a failure.

moto lets AssumeRole into any account, and its management account is the tests' central account. So
the management account is told apart as on AWS (by the root's ARN), and where a test needs a
management account other than the central one it names another account of the world as the
management account; the refused AssumeRole is injected through botocore."""

from __future__ import annotations

import boto3
import pytest

from central.aws import org_walk
from central.aws.organizations import discover_from
from central.domain.results import AccountStatus, Outcome
from central.domain.summary import totals
from central.report.collect import Reading, collect_report
from central.report.rows import AccountState, RowKind
from central.rotation.not_deployed import CENTRAL_NOT_MANAGED, MEMBER_ROLE_MISSING
from central.rotation.run import run_rotation
from tests.integration.conftest import make_harness
from tests.integration.faults import Faults
from tests.integration.fixtures_extra import (
    clean_harness,
    row,
    shared_botocore_loader,  # noqa: F401 - autouse: shared service models (speed)
    user_rows,
)
from tests.support.world import OrgSpec, UserSpec

NO_WAIT = Reading(sleep=lambda _seconds: None)


def test_discovery_knows_the_management_account_by_the_roots_arn(central: boto3.Session) -> None:
    harness = clean_harness(central)
    found = discover_from(central, harness.world.management_id)
    flagged = [account.id for account in found.accounts if account.management]
    assert flagged == [harness.world.management_id]
    assert len(found.accounts) == 4  # the three members and the management account


def _dev_as_management(harness, monkeypatch: pytest.MonkeyPatch, code: str = "AccessDenied") -> str:
    """dev plays the management account; AssumeRole into it is refused with `code`."""
    dev = str(harness.world.account_ids["dev"])
    monkeypatch.setattr(org_walk, "_management_account_id", lambda _root: dev)
    Faults(monkeypatch).refuse(
        "AssumeRole",
        code=code,
        message=f"injected {code}",
        status=403 if code == "AccessDenied" else 400,
        when=lambda params: f"::{dev}:" in params["RoleArn"],
    )
    return dev


def test_a_run_tells_the_missing_member_role_once_and_exits_0(central, monkeypatch) -> None:
    harness = clean_harness(central)
    dev = _dev_as_management(harness, monkeypatch)

    result = run_rotation(harness.services)

    account = row(result, dev)
    assert account.status is AccountStatus.NOT_DEPLOYED
    assert account.detail == MEMBER_ROLE_MISSING
    assert "run `ikr deploy --management-account` with its credentials" in account.detail
    assert not account.failed
    assert result.exit_code == 0
    assert "1 not deployed" in totals(result)
    for name, user in (("prod", "alice"), ("ops", "olga")):
        assert [entry.outcome for entry in user_rows(result, harness.world.account_ids[name], user)] == [
            Outcome.ROTATED
        ]


def test_a_throttled_management_account_is_still_a_failure(central, monkeypatch) -> None:
    harness = clean_harness(central, IKR_AWS_MAX_ATTEMPTS=1)
    dev = _dev_as_management(harness, monkeypatch, code="Throttling")

    result = run_rotation(harness.services)

    assert row(result, dev).status is AccountStatus.FAILED
    assert result.exit_code == 1


def test_the_report_names_the_step_and_counts_no_failure(central, monkeypatch) -> None:
    harness = clean_harness(central)
    dev = _dev_as_management(harness, monkeypatch)

    report = collect_report(harness.services, reading=NO_WAIT)

    [account] = [a for a in report.accounts if a.account_id == dev]
    assert account.state is AccountState.NOT_DEPLOYED
    assert account.detail == MEMBER_ROLE_MISSING
    [dev_row] = [r for r in report.rows if r.account_id == dev]
    assert dev_row.kind is RowKind.NOT_DEPLOYED
    assert not dev_row.problem
    assert (report.summary.not_deployed, report.summary.unreachable, report.summary.failures) == (1, 0, 0)


def test_a_central_management_account_that_may_not_read_its_users_says_manage_central_account(
    central, monkeypatch
) -> None:
    harness = make_harness(
        central,
        OrgSpec(
            management_tags={"IKR:ENABLED": "true"},
            management_users=[UserSpec("mia", {"IKR:EMAIL": "mia@example.com"})],
        ),
    )
    # The central stack's Lambda roles without ManageCentralAccount=true: IAM refuses them here.
    Faults(monkeypatch).refuse("GetAccountAuthorizationDetails", code="AccessDenied", service="iam")

    result = run_rotation(harness.services)

    account = row(result, harness.world.management_id)
    assert account.status is AccountStatus.NOT_DEPLOYED
    assert account.detail == CENTRAL_NOT_MANAGED
    assert result.exit_code == 0
