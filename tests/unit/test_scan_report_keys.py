"""Which users the credential report may speak for: `report_keys` (pure, no AWS)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from central.aws.credential_report import CredentialReport, CredentialRow, ReportKey
from central.aws.iam_inventory import ListedUser
from central.domain.model import IamUser, KeyStatus, Tag
from central.rotation.scan import report_keys

MADE = datetime(2021, 1, 1, tzinfo=UTC)
KEY_MADE = datetime(2026, 1, 1, 10, tzinfo=UTC)
ARN = "arn:aws:iam::111111111111:user/alice"


def listed(created: datetime | None = MADE, arn: str = ARN) -> ListedUser:
    return ListedUser(IamUser(name="alice", arn=arn, tags=(Tag(key="IKR:EMAIL", value="a@example.com"),)), created)


def report(*keys: ReportKey, created: datetime | None = MADE) -> CredentialReport:
    return CredentialReport(rows={"alice": CredentialRow(user="alice", arn=ARN, created=created, keys=keys)})


def test_each_reported_key_with_its_state_and_creation_time_named_by_its_date():
    keys = report_keys(
        listed(),
        report(
            ReportKey(slot=1, active=True, last_rotated=KEY_MADE), ReportKey(slot=2, active=False, last_rotated=MADE)
        ),
    )

    assert keys is not None
    assert [(k.key_id, k.status, k.created) for k in keys] == [
        ("created 2026-01-01", KeyStatus.ACTIVE, KEY_MADE),
        ("created 2021-01-01", KeyStatus.INACTIVE, MADE),
    ]


def test_a_user_without_keys_in_the_report_has_none():
    assert report_keys(listed(), report()) == ()


def test_no_report_or_no_row_cannot_speak_for_the_user():
    assert report_keys(listed(), None) is None
    assert report_keys(listed(), CredentialReport()) is None  # the user is newer than the report


def test_a_row_of_an_earlier_user_of_the_same_name_is_not_used():
    recreated = listed(created=MADE + timedelta(seconds=1))

    assert report_keys(recreated, report(ReportKey(slot=1, active=True, last_rotated=KEY_MADE))) is None


def test_creation_times_are_compared_to_the_second_as_the_report_holds_them():
    same_second = listed(created=MADE + timedelta(microseconds=1336))

    assert report_keys(same_second, report(ReportKey(slot=1, active=True, last_rotated=KEY_MADE))) is not None


def test_a_row_under_another_arn_or_without_a_creation_time_or_key_date_is_not_used():
    key = ReportKey(slot=1, active=True, last_rotated=KEY_MADE)

    assert report_keys(listed(arn="arn:aws:iam::111111111111:user/team/alice"), report(key)) is None
    assert report_keys(listed(), report(key, created=None)) is None
    assert report_keys(listed(), report(ReportKey(slot=1, active=True, last_rotated=None))) is None
