"""Parsing the IAM credential report and matching its key slots to keys (the report names no ids)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from central.aws.credential_report import CredentialReportError, match_keys, parse_report
from central.domain.model import AccessKey, KeyStatus

HEADER = (
    "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
    "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,"
    "access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,"
    "access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
    "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,"
    "cert_2_active,cert_2_last_rotated"
)
ROOT = (
    "<root_account>,arn:aws:iam::111111111111:root,2020-01-01T00:00:00+00:00,not_supported,N/A,"
    "not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A"
)
ALICE = (
    "alice,arn:aws:iam::111111111111:user/alice,2021-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false,"
    "true,2026-01-01T10:00:00+00:00,2026-11-20T08:00:00+00:00,eu-west-1,s3,"
    "false,2026-03-01T10:00:00+00:00,N/A,N/A,N/A,false,N/A,false,N/A"
)
BOB = (
    "bob,arn:aws:iam::111111111111:user/bob,2021-01-01T00:00:00+00:00,true,N/A,N/A,N/A,false,"
    "false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A"
)


def report(*lines: str) -> bytes:
    return "\n".join([HEADER, *lines]).encode()


def test_rows_by_user_without_root_and_with_each_filled_slot():
    parsed = parse_report(report(ROOT, ALICE, BOB))

    assert set(parsed.rows) == {"alice", "bob"}
    alice = parsed.rows["alice"]
    assert [(k.slot, k.active) for k in alice.keys] == [(1, True), (2, False)]
    first = alice.keys[0]
    assert first.last_rotated == datetime(2026, 1, 1, 10, tzinfo=UTC)
    assert first.last_used == datetime(2026, 11, 20, 8, tzinfo=UTC)
    assert (first.last_used_service, first.last_used_region) == ("s3", "eu-west-1")
    assert alice.keys[1].last_used is None  # N/A is unknown, never a date
    assert parsed.rows["bob"].keys == ()


def test_a_report_without_the_key_columns_is_refused():
    with pytest.raises(CredentialReportError, match="lacks the columns"):
        parse_report(b"user,arn\nalice,arn:aws:iam::1:user/alice\n")


def test_an_unreadable_date_is_unknown_not_a_crash():
    parsed = parse_report(report(ALICE.replace("2026-11-20T08:00:00+00:00", "yesterday")))

    assert parsed.rows["alice"].keys[0].last_used is None


def key(key_id: str, created: datetime, status: KeyStatus = KeyStatus.ACTIVE) -> AccessKey:
    return AccessKey(key_id=key_id, status=status, created=created)


def test_keys_match_slots_by_creation_second():
    row = parse_report(report(ALICE)).rows["alice"]
    keys = [
        key("AKIAOLD", datetime(2026, 1, 1, 10, 0, 0, 400_000, tzinfo=UTC)),
        key("AKIANEW", datetime(2026, 3, 1, 10, tzinfo=UTC), KeyStatus.INACTIVE),
    ]

    matched = match_keys(keys, row)

    assert matched["AKIAOLD"].slot == 1
    assert matched["AKIANEW"].slot == 2


def test_keys_made_in_one_second_are_told_apart_by_status_then_slot():
    same = "2026-05-05T05:05:05+00:00"
    line = ALICE.replace("2026-01-01T10:00:00+00:00", same).replace("2026-03-01T10:00:00+00:00", same)
    row = parse_report(report(line)).rows["alice"]
    moment = datetime(2026, 5, 5, 5, 5, 5, tzinfo=UTC)

    matched = match_keys([key("AKIAB", moment, KeyStatus.INACTIVE), key("AKIAA", moment)], row)

    assert matched["AKIAA"].slot == 1  # slot 1 is the active one
    assert matched["AKIAB"].slot == 2


def test_a_key_newer_than_the_report_has_no_slot():
    row = parse_report(report(ALICE)).rows["alice"]

    assert match_keys([key("AKIAFRESH", datetime(2026, 11, 25, tzinfo=UTC))], row) == {}
    assert match_keys([key("AKIAFRESH", datetime(2026, 11, 25, tzinfo=UTC))], None) == {}
