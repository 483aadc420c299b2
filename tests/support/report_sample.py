"""A small report built from pure records (no AWS): shared by the renderer, schema and browser tests.

Root / OU Workloads (IKR:ENABLED=true, rotate after 60) holds `prod` (delete after 3) and `dev`;
OU Sandbox is not opted in; one account is unreachable and one has a bad IKR:ENABLED. In prod:
alice is overdue, bob not due (his own 200 days), carol has a bad tag whose value is a <script>,
dave's old key waits for deletion, `untagged` has an old key and no IKR:EMAIL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from central.aws.credential_report import CredentialReport, CredentialRow, ReportKey
from central.aws.expiry_item import ExpiryItem, State, epoch
from central.domain.model import AccessKey, Account, IamUser, KeyStatus, OrgUnit, Tag
from central.domain.scope import AccountScope, resolve
from central.report.build import AccountData, account_rows, account_summary, assemble, not_worked_row
from central.report.rows import AccountRow, AccountState, Report, ReportRow

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
SCRIPT = "<script>alert('x')</script>"
PROD, DEV, GONE, SANDBOX, BAD = "111122223333", "222233334444", "333344445555", "444455556666", "555566667777"


def tags(**values: str) -> tuple[Tag, ...]:
    return tuple(Tag(key=key.replace("_", ":", 1), value=value) for key, value in values.items())


def key(key_id: str, age_days: float, status: KeyStatus = KeyStatus.ACTIVE) -> AccessKey:
    return AccessKey(key_id=key_id, status=status, created=NOW - timedelta(days=age_days))


def user(name: str, *keys: AccessKey, **tag_values: str) -> IamUser:
    return IamUser(name=name, arn=f"arn:aws:iam::{PROD}:user/{name}", tags=tags(**tag_values), keys=keys)


ROOT = OrgUnit(id="r-ab12", name="Root")
WORKLOADS = OrgUnit(id="ou-ab12-work", name="Workloads", tags=tags(IKR_ENABLED="true", IKR_ROTATE_AFTER_DAYS="60"))
SANDBOX_OU = OrgUnit(id="ou-ab12-sand", name="Sandbox")


def scope_of(account_id: str, name: str, unit: OrgUnit, **tag_values: str) -> AccountScope:
    return resolve(Account(id=account_id, name=name, tags=tags(**tag_values), path=(ROOT, unit)), 85, 5)


def prod_data() -> AccountData:
    alice = user("alice", key("AKIAALICE00000000001", 100), IKR_EMAIL="alice@example.com")
    bob = user("bob", key("AKIABOB0000000000001", 100), IKR_EMAIL="bob@example.com", IKR_ROTATE_AFTER_DAYS="200")
    carol = user("carol", key("AKIACAROL00000000001", 30), IKR_EMAIL="carol@example.com", IKR_ROTATE_AFTER_DAYS=SCRIPT)
    dave = user("dave", key("AKIADAVEOLD000000001", 70), key("AKIADAVENEW000000001", 1), IKR_EMAIL="dave@example.com")
    untagged = user("untagged", key("AKIAUNTAGGED00000001", 400))
    credentials = CredentialReport(
        rows={
            "alice": CredentialRow(
                user="alice",
                arn=alice.arn,
                keys=(
                    ReportKey(
                        slot=1,
                        active=True,
                        last_rotated=alice.keys[0].created,
                        last_used=NOW - timedelta(days=2),
                        last_used_service="s3",
                        last_used_region="eu-west-1",
                    ),
                ),
            )
        }
    )
    item = ExpiryItem(
        account_id=PROD,
        user_name="dave",
        old_key_id="AKIADAVEOLD000000001",
        state=State.SCHEDULED,
        started_at=epoch(NOW - timedelta(days=1)),
        expires_at=epoch(NOW + timedelta(days=2)),
        attempts=1,
    )
    return AccountData(managed=[alice, bob, carol, dave], unmanaged=[untagged], credentials=credentials, items=[item])


def dev_data() -> AccountData:
    return AccountData(managed=[user("=eve", key("AKIAEVE0000000000001", 10), IKR_EMAIL="eve@example.com")])


def sample_report() -> Report:
    accounts: list[AccountRow] = []
    rows: list[ReportRow] = []
    for scope, data in (
        (scope_of(PROD, "prod", WORKLOADS, IKR_DELETE_AFTER_DAYS="3"), prod_data()),
        (scope_of(DEV, "dev", WORKLOADS), dev_data()),
    ):
        found = account_rows(scope, data, NOW)
        rows.extend(found)
        accounts.append(account_summary(scope, AccountState.OPTED_IN, f"opted in by {scope.opt_in}", found))
    for scope, state, detail in (
        (scope_of(GONE, "legacy", WORKLOADS), AccountState.UNREACHABLE, f"account {GONE}: AccessDenied: no role"),
        (scope_of(SANDBOX, "sandbox", SANDBOX_OU), AccountState.NOT_OPTED_IN, "no IKR:ENABLED tag"),
        (scope_of(BAD, "odd", SANDBOX_OU, IKR_ENABLED="maybe"), AccountState.BAD_TAGS, "IKR:ENABLED='maybe'"),
    ):
        row = not_worked_row(scope, state, detail)
        rows.append(row)
        accounts.append(account_summary(scope, state, detail, [row]))
    return assemble(NOW, False, 85, 5, accounts, rows)
