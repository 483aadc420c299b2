"""`make bench-artifact` cannot rot: its "before" rules and its table, without building or timing."""

from __future__ import annotations

from pathlib import Path

from tests.bench.artifact import COLUMNS, FLOOR, Built, Row, table, untrimmed


def test_the_before_variant_keeps_what_ikr_package_kept_before_trimming() -> None:
    assert untrimmed("botocore/data/ec2/2016-11-15/service-2.json.gz", frozenset({"iam"}))
    assert untrimmed("certifi/tests/test_certify.py", frozenset())
    assert not untrimmed("bin/jp.py", frozenset())
    assert not untrimmed("boto3/__pycache__/session.cpython-312.pyc", frozenset())
    assert not untrimmed("boto3-1.0.dist-info/direct_url.json", frozenset())


def test_the_table_has_a_row_per_variant_with_every_handler_and_the_libraries_floor() -> None:
    built = Built("after: trimmed + .pyc", 14_200_000, 39_400_000, 1807, Path("unused"))
    row = Row(built, dict.fromkeys(COLUMNS, 280.4), dict.fromkeys(COLUMNS, 300.0))
    lines = table([row])
    assert len(lines) == 4
    assert f"{FLOOR} ms" in lines[0]
    assert "CPU least / median" in lines[1]
    assert lines[-1].startswith("after: trimmed + .pyc")
    assert "14.2" in lines[-1]
    assert lines[-1].count("280 / 300") == len(COLUMNS)
