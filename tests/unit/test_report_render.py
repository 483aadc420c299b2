"""The report's renderers: a table for people, CSV for spreadsheets, JSON, and one self-contained HTML page."""

from __future__ import annotations

import csv
import io
import json
import re

from central.report.render_html import render_html
from central.report.render_text import cell, csv_header, render_csv, render_json, render_table
from central.report.rows import Report
from tests.support.report_sample import SCRIPT, sample_report


def test_the_table_has_the_summary_and_a_line_per_row():
    report = sample_report()

    lines = render_table(report).splitlines()

    assert lines[0].startswith("ikr report at 2027-03-01 12:00 UTC: 5 account(s)")
    assert len([line for line in lines if line.startswith(("111122223333", "2222", "3333", "4444", "5555"))]) == len(
        report.rows
    )
    assert any("*alice" in line and "rotate key AKIAALICE00000000001" in line for line in lines)
    assert any("!carol" in line for line in lines)


def test_csv_has_one_header_and_one_record_per_row_with_keys_in_columns():
    report = sample_report()

    records = list(csv.DictReader(io.StringIO(render_csv(report))))

    assert list(records[0]) == csv_header()
    assert len(records) == len(report.rows)
    dave = next(r for r in records if r["user"] == "dave")
    assert (dave["key_1_id"], dave["key_2_id"]) == ("AKIADAVEOLD000000001", "AKIADAVENEW000000001")
    assert dave["next_action_at_utc"] == "2027-03-03 12:00:00"
    assert dave["pending_old_keys"].startswith("AKIADAVEOLD000000001 scheduled deleted at 2027-03-03 12:00 UTC")
    alice = next(r for r in records if r["user"] == "alice")
    assert (alice["overdue"], alice["rotate_after_days"], alice["rotate_after_from"]) == ("TRUE", "60", "ou-tag")


def test_csv_cells_never_start_a_formula():
    # user names and tag values are user input; a spreadsheet would run "=..." as a formula
    records = list(csv.DictReader(io.StringIO(render_csv(sample_report()))))

    assert "'=eve" in [r["user"] for r in records]
    assert cell("=1+1") == "'=1+1"
    assert cell("@SUM(A1)") == "'@SUM(A1)"
    assert cell(-3) == "-3"  # a number stays a number
    assert cell(None) == ""


def test_json_is_the_model_and_says_its_schema_version():
    document = json.loads(render_json(sample_report()))

    assert document["schema_version"] == 1
    assert Report.model_validate(document).summary.failures == 3


def test_html_is_self_contained_and_forbids_every_fetch():
    page = render_html(sample_report())

    assert "default-src 'none'" in page
    # no external resource: the only URL is the SVG namespace name, which is never fetched
    assert re.findall(r"(?:src|href)\s*=", page) == []
    assert set(re.findall(r"https?://[^\s'\"<>]+", page)) == {"http://www.w3.org/2000/svg"}


def test_html_escapes_user_input():
    page = render_html(sample_report())

    assert SCRIPT not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert page.count("<script>") == 1  # the page's own


def test_html_tiles_and_table_rows():
    report = sample_report()

    page = render_html(report)

    tiles = dict(re.findall(r"data-tile='([a-z-]+)'><span class='n'>(\d+)</span>", page))
    assert tiles == {
        "accounts": "5",
        "managed-users": "5",
        "due-now": "1",
        "overdue": "1",
        "failures": "3",
        "pending": "1",
        "unmanaged-risk": "1",
    }
    assert page.count("data-kind=") == len(report.rows)
    assert page.count("data-account=") == len(report.accounts)
