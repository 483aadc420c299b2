"""The IAM credential report of one account: every user's keys, their state, age and last use.

One GenerateCredentialReport plus one GetCredentialReport describe every key of the account, where
ListAccessKeys and GetAccessKeyLastUsed would cost calls per user. IAM makes a new report at most
every 4 hours: Generate answers COMPLETE at once while a fresh one exists, so a steady-state run
pays two calls. The report names no key ids: a key is matched by its slot's `last_rotated`, which is
the key's creation time (see `match_keys`).
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError
from pydantic import Field

from central.domain.errors import IkrError
from central.domain.model import AccessKey, Frozen, KeyStatus

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient

ROOT_USER = "<root_account>"
_EMPTY = {"", "N/A", "not_supported", "no_information"}
_SLOTS = (1, 2)
# IAM builds a report within seconds for small accounts and up to minutes for the largest.
DEFAULT_WAIT_SECONDS = 120.0


class CredentialReportError(IkrError):
    """The account's credential report could not be had (not ready in time, or malformed)."""


class ReportKey(Frozen):
    slot: int
    active: bool
    last_rotated: datetime | None = None  # when the key in this slot was created
    last_used: datetime | None = None
    last_used_service: str | None = None
    last_used_region: str | None = None


class CredentialRow(Frozen):
    user: str
    arn: str
    created: datetime | None = None
    keys: tuple[ReportKey, ...] = ()  # slots that hold a key (active or not)


class CredentialReport(Frozen):
    generated: datetime | None = None
    rows: dict[str, CredentialRow] = Field(default_factory=dict)

    def row(self, user: str) -> CredentialRow | None:
        return self.rows.get(user)


def _moment(value: str | None) -> datetime | None:
    if value is None or value.strip() in _EMPTY:
        return None
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        return None  # an unreadable cell is treated as unknown, never as a date


def _text(value: str | None) -> str | None:
    return None if value is None or value.strip() in _EMPTY else value.strip()


def parse_report(
    content: bytes | str, generated: datetime | None = None, users: Collection[str] | None = None
) -> CredentialReport:
    """Rows by user name; the root account's row is left out (ikr never rotates root keys).

    `users`: only these users' rows (the rotation needs its managed users' alone: a tenth of an
    account's rows, and most of the parsing time of a scan)."""
    text = content.decode("utf-8") if isinstance(content, bytes) else content
    # Plain rows and a column index, not DictReader: a dict per row of every user (22 columns)
    # cost more than the rest of the parse, and most rows are skipped by name.
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    needed = {"user", "arn", "access_key_1_active", "access_key_1_last_rotated"}
    if header is None or not needed <= set(header):
        raise CredentialReportError(f"credential report lacks the columns {sorted(needed)}")
    column = {name: index for index, name in enumerate(header)}
    user_at, arn_at = column["user"], column["arn"]

    def cell(line: list[str], name: str) -> str | None:
        index = column.get(name)
        return line[index] if index is not None and index < len(line) else None

    rows: dict[str, CredentialRow] = {}
    for line in reader:
        if len(line) <= max(user_at, arn_at):
            continue  # a short (truncated) line names no user
        user = line[user_at]
        if user == ROOT_USER or (users is not None and user not in users):
            continue
        keys = []
        for slot in _SLOTS:
            prefix = f"access_key_{slot}_"
            active = (cell(line, prefix + "active") or "").strip().lower() == "true"
            rotated = _moment(cell(line, prefix + "last_rotated"))
            if not active and rotated is None:
                continue  # an empty slot
            keys.append(
                ReportKey(
                    slot=slot,
                    active=active,
                    last_rotated=rotated,
                    last_used=_moment(cell(line, prefix + "last_used_date")),
                    last_used_service=_text(cell(line, prefix + "last_used_service")),
                    last_used_region=_text(cell(line, prefix + "last_used_region")),
                )
            )
        rows[user] = CredentialRow(
            user=user,
            arn=line[arn_at],
            created=_moment(cell(line, "user_creation_time")),
            keys=tuple(keys),
        )
    return CredentialReport(generated=generated, rows=rows)


def match_keys(keys: Sequence[AccessKey], row: CredentialRow | None) -> dict[str, ReportKey]:
    """Each key's report slot, by creation time to the second (the report names no key ids).

    Two keys made within one second are told apart by their Active flag, then by slot order
    (slot 1 was filled first). A key with no matching slot (a report older than the key) is left out.
    """
    free = list(row.keys) if row else []
    found: dict[str, ReportKey] = {}
    for key in sorted(keys, key=lambda k: k.created):
        second = int(key.created.timestamp())
        same = [c for c in free if c.last_rotated is not None and int(c.last_rotated.timestamp()) == second]
        best = [c for c in same if c.active == (key.status is KeyStatus.ACTIVE)] or same
        if best:
            chosen = min(best, key=lambda c: c.slot)
            found[key.key_id] = chosen
            free.remove(chosen)
    return found


def start_credential_report(iam: IAMClient) -> str:
    """Ask IAM for a report (a no-op while one under 4 hours old exists); its State answer.

    Asking first and reading after other work (the user scan) lets IAM build the report meanwhile,
    so a run rarely waits for it.
    """
    return iam.generate_credential_report()["State"]


def fetch_credential_report(
    iam: IAMClient,
    wait_seconds: float = DEFAULT_WAIT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    started: str | None = None,
    users: Collection[str] | None = None,
) -> CredentialReport:
    """Generate (a no-op while a report under 4 hours old exists), wait until it is ready, read it.

    `started`: the State an earlier `start_credential_report` answered; COMPLETE saves a call.
    `users`: only these users' rows (see `parse_report`).
    The waiting is for IAM to finish building the report, not a retry: throttling and transient
    errors are retried by botocore inside each call.
    """
    waited, pause = 0.0, 1.0
    # Asked again at once after an earlier start: the caller's work since may have been enough.
    state = started if started == "COMPLETE" else start_credential_report(iam)
    while state != "COMPLETE":
        if waited >= wait_seconds:
            raise CredentialReportError(f"credential report not ready after {waited:.0f} s")
        sleep(pause)
        waited += pause
        pause = min(pause * 2, 10.0)
        state = start_credential_report(iam)
    try:
        response = iam.get_credential_report()
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if code in ("ReportNotPresent", "ReportExpired", "ReportInProgress"):
            raise CredentialReportError(f"credential report not readable: {code}") from None
        raise
    if response.get("ReportFormat", "text/csv") != "text/csv":
        raise CredentialReportError(f"credential report in unexpected format {response['ReportFormat']}")
    return parse_report(response["Content"], response.get("GeneratedTime"), users)
