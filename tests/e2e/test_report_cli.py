"""`ikr report`, `ikr plan` and `ikr explain` through the real CLI against a moto server."""

from __future__ import annotations

import csv
import io

import pytest

from central.report.rows import Report, RowKind
from tests.e2e.conftest import DAY_100, E2E

pytestmark = pytest.mark.e2e


@pytest.fixture
def ready(e2e: E2E) -> E2E:
    e2e.create_table()
    for account in ("prod", "dev"):  # IAM holds a fresh credential report: nothing to wait for
        e2e.client(account, "iam").generate_credential_report()
    return e2e


def test_report_as_json_csv_and_html_files(ready: E2E) -> None:
    e2e = ready
    prod, sandbox = e2e.account("prod"), e2e.account("sandbox")

    as_json = e2e.ikr("report", "--now", DAY_100, "--format", "json", "--out", "r.json")
    as_csv = e2e.ikr("report", "--now", DAY_100, "--format", "csv", "--out", "r.csv")
    as_html = e2e.ikr("report", "--now", DAY_100, "--format", "html", "--out", "r.html")

    # exit 1: carol's bad tag needs a person; each run says where the file is
    assert [run.code for run in (as_json, as_csv, as_html)] == [1, 1, 1], as_json.stderr
    assert as_html.lines[0] == f"HTML report written to {e2e.cwd / 'r.html'}"
    assert as_html.lines[1].startswith("ikr report at ")
    report = Report.model_validate_json((e2e.cwd / "r.json").read_text(encoding="utf-8"))
    rows = {(row.account_id, row.user): row for row in report.rows}
    assert rows[prod, "alice"].next_action.startswith("rotate key ")
    assert rows[prod, "bob"].decision == "not-due"
    assert rows[prod, "carol"].problem is True
    assert rows[prod, "untagged"].kind is RowKind.UNMANAGED_RISK
    assert rows[sandbox, None].kind is RowKind.NOT_OPTED_IN
    assert (report.summary.accounts, report.summary.due_now, report.summary.failures) == (4, 2, 1)
    # the CSV opens in a spreadsheet: UTF-8 with a byte-order mark, one record per row
    raw = (e2e.cwd / "r.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfkind,account_id,")
    records = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert len(records) == len(report.rows)
    page = (e2e.cwd / "r.html").read_text(encoding="utf-8")
    assert "<span class='n'>2</span><span class='l'>due now</span>" in page
    # progress went to stderr, one plain line per account (not a terminal)
    assert len([line for line in as_html.stderr.splitlines() if line.startswith("ikr report: ")]) == 4


def test_report_table_on_stdout_and_a_missing_folder(ready: E2E) -> None:
    table = ready.ikr("report", "--now", DAY_100)
    nowhere = ready.ikr("report", "--out", "no/such/folder/r.html")

    assert table.code == 1
    assert table.lines[0].startswith("ikr report at ")
    assert table.line_for("untagged").split()[4] == "unmanaged-risk"
    assert nowhere.code == 2
    assert "folder no/such/folder does not exist" in nowhere.stderr


def test_plan_says_what_a_run_would_do_and_changes_nothing(ready: E2E) -> None:
    e2e = ready
    before = e2e.all_keys()

    plan = e2e.ikr("plan", "--now", DAY_100)

    assert plan.code == 1  # carol's bad tag, as `ikr rotate` would say
    assert "dry run (nothing changed)" in plan.lines[0]
    assert "would-rotate" in plan.line_for("alice")
    assert "not-due" in plan.line_for("bob")
    assert e2e.all_keys() == before
    assert e2e.items() == []
    assert e2e.sink.messages == []


def test_explain_walks_the_tag_chain(ready: E2E) -> None:
    e2e = ready
    prod = e2e.account("prod")

    bob = e2e.ikr("explain", "--account", prod, "--user", "bob", "--now", DAY_100)
    nobody = e2e.ikr("explain", "--account", prod, "--user", "nobody")

    assert bob.code == 0, bob.stderr
    text = [line.strip() for line in bob.lines]
    assert "user tag: '200'  <- in force" in text
    assert f"account {prod} (prod): '3'  <- in force" in text  # IKR:DELETE_AFTER_DAYS
    assert "=> 200 days, from user tag" in text
    assert any(line.startswith("9. Decision: NOT-DUE") for line in bob.lines)
    assert nobody.code == 2
    assert f"account {prod} has no IAM user 'nobody'" in nobody.stderr
