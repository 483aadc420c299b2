"""The org-wide report's records: what `ikr report` writes as JSON, CSV, a table or HTML.

Pydantic models at the edge: the JSON output is `Report.model_dump_json()` and its schema
(`docs/report.schema.json`) is generated from these models (`python -m central.report.rows`), so the
file and the code cannot drift apart silently (a test compares them).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from central.domain.policy import Action

SCHEMA_VERSION = 1


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RowKind(StrEnum):
    MANAGED = "managed-user"  # a user tagged IKR:EMAIL in an opted-in account
    UNMANAGED_RISK = "unmanaged-risk"  # no IKR:EMAIL, an active key older than the account's policy
    NO_MANAGED_USERS = "no-managed-users"  # an opted-in account with no IKR:EMAIL user
    NOT_OPTED_IN = "not-opted-in"
    UNREACHABLE = "unreachable"  # the member role could not be assumed, or IAM refused
    BAD_ACCOUNT_TAGS = "bad-account-tags"  # an IKR tag on the account or an OU above it is invalid
    NOT_DEPLOYED = "not-deployed"  # opted in, but ikr's access is not there: the management account's member role


class AccountState(StrEnum):
    OPTED_IN = "opted-in"
    NOT_OPTED_IN = "not-opted-in"
    UNREACHABLE = "unreachable"
    BAD_TAGS = "bad-tags"
    NOT_DEPLOYED = "not-deployed"


class Origin(StrEnum):
    """Where a number of days came from, nearest scope first."""

    USER_TAG = "user-tag"
    ACCOUNT_TAG = "account-tag"
    OU_TAG = "ou-tag"
    ROOT_TAG = "root-tag"
    DEFAULT = "default"  # the setting ROTATE_AFTER_DAYS / DELETE_AFTER_DAYS


class KeyRow(_Row):
    key_id: str
    status: str = Field(description="Active or Inactive")
    created: datetime
    age_days: int
    last_used: datetime | None = Field(None, description="from the IAM credential report; null: never or unknown")
    last_used_service: str | None = None
    last_used_region: str | None = None


class RestoreRow(_Row):
    """`ikr restore` of an old key: re-activated, its retirement moved (issue 18.4)."""

    at: datetime = Field(description="when it was restored")
    by: str = Field(description="who asked: cli:<login> or the Lambda event's `by`")
    reason: str | None = None
    until: datetime = Field(description="the old key's retirement starts again then")
    forced: bool = Field(False, description="an exposed key, restored with --force")


class PendingRow(_Row):
    """An expiry table item of this user: an old key waiting for deletion, or an interrupted rotation."""

    old_key_id: str
    state: str = Field(description="scheduled, failed, or a journal state (started, key-created, delivered)")
    deletes_at: datetime | None = Field(
        None, description="when the old key is deleted (or made inactive first, with DEACTIVATE_BEFORE_DELETE_DAYS)"
    )
    deactivated_at: datetime | None = Field(None, description="when the old key was made inactive")
    attempts: int = Field(0, description="destruction attempts so far")
    last_error: str | None = None
    waiting_for_use_since: datetime | None = Field(
        None, description="IKR:VERIFY_USE: the new key was not yet in use when the old key's time came (last told)"
    )
    # Issue 18: left out of the JSON when unset, so a report without them is the same as before.
    rotation_reason: str | None = Field(
        None,
        exclude_if=lambda value: value is None,
        description="why the rotation was asked for regardless of age (`ikr rotate --now-due --reason`, "
        "'exposed'); absent: it was due",
    )
    exposed_at: datetime | None = Field(
        None,
        exclude_if=lambda value: value is None,
        description="AWS reported the old key exposed (AWS_RISK_CREDENTIALS_EXPOSED): made inactive then",
    )
    restored: RestoreRow | None = Field(None, description="the last `ikr restore` of this old key")


class PolicyDays(_Row):
    days: int
    origin: Origin
    source: str = Field(description="the exact scope and tag, e.g. 'OU ou-ab12-cd34 (Workloads) tag IKR:...'")


class ExemptionRow(_Row):
    """IKR:EXEMPT_UNTIL on a managed user: no rotation and no reminder through `until` (UTC, inclusive)."""

    until: date = Field(description="the last day of the exemption (UTC), inclusive")
    reason: str = Field("", description="IKR:EXEMPT_REASON; empty when none was given")
    active: bool = Field(description="false: the date is past and the exemption has lapsed")
    warnings: list[str] = Field(default_factory=list, description="lapsed, no reason, or longer than 90 days")


class ReminderRow(_Row):
    """A reminder sent to the user before its key is due (REMIND_BEFORE_DAYS), read from the expiry table."""

    key_id: str
    sent_at: datetime
    due_at: datetime = Field(description="the rotation date the reminder announced")
    channel: str = Field("", description="where it went, e.g. 'mail to a@example.com'")


class ReportRow(_Row):
    """One line of the report: a managed user, an unmanaged user at risk, or an account ikr does not work."""

    kind: RowKind
    account_id: str
    account_name: str
    ou_path: str = Field("", description="names from the root down, '/'-separated")
    account_state: AccountState
    account_detail: str = Field("", description="why the account is (not) worked: the deciding tag, or the error")
    user: str | None = None
    email: str | None = None
    keys: list[KeyRow] = Field(default_factory=list)
    rotate_after: PolicyDays | None = None
    delete_after: PolicyDays | None = None
    decision: Action | None = Field(None, description="the policy's decision, as the next run would make it")
    delivery: str | None = Field(None, description="where a new key goes: mail, secretsmanager:<name>, ssm:<name>")
    verify_use: bool | None = Field(None, description="the old key goes only once the new key is seen in use")
    next_action: str = Field("", description="what happens next, in words")
    next_action_at: datetime | None = Field(None, description="when it happens (the next run for due keys)")
    due_at: datetime | None = Field(None, description="when the judged key reached its rotation age")
    overdue: bool = Field(False, description="due (or the old key's deletion time passed) more than a day ago")
    problem: bool = Field(False, description="needs a person: bad tag, unreachable account, given-up deletion")
    reason: str = ""
    pending: list[PendingRow] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    exemption: ExemptionRow | None = Field(None, description="IKR:EXEMPT_UNTIL and its reason, active or lapsed")
    reminders: list[ReminderRow] = Field(default_factory=list, description="reminders sent for this user's keys")


class AccountRow(_Row):
    """Every account of the Organization and ikr's state there."""

    account_id: str
    account_name: str
    ou_path: str = ""
    state: AccountState
    detail: str = ""
    managed_users: int = 0
    due_now: int = 0
    overdue: int = 0
    problems: int = 0
    unmanaged_risk: int = 0
    notes: list[str] = Field(default_factory=list, description="what could not be read (e.g. the credential report)")


class Summary(_Row):
    accounts: int
    opted_in: int
    not_opted_in: int
    unreachable: int = Field(description="accounts not worked: no access, or a bad account/OU tag")
    not_deployed: int = Field(0, description="opted-in accounts ikr's access was never deployed to (management)")
    managed_users: int
    due_now: int = Field(description="managed users the next run rotates")
    overdue: int = Field(description="rows due, or whose old key's deletion passed, more than a day ago")
    pending_deletions: int = Field(description="old keys waiting for their deletion time")
    unmanaged_risk: int
    failures: int = Field(description="unreachable accounts plus rows that need a person")


class Report(_Row):
    """`ikr report --format json`: the whole report."""

    schema_version: int = SCHEMA_VERSION
    generated_at: datetime = Field(description="the report's clock (`--now` or IKR_NOW when set)")
    standalone: bool = Field(False, description="the caller is in no Organization: its own account alone")
    default_rotate_after_days: int
    default_delete_after_days: int
    summary: Summary
    accounts: list[AccountRow]
    rows: list[ReportRow]

    @property
    def failed(self) -> bool:
        return self.summary.failures > 0


def schema_text() -> str:
    """The JSON schema of `Report`, as committed in docs/report.schema.json."""
    schema = Report.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(schema_text(), end="")
