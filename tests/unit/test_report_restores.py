"""The report shows `ikr restore` (issue 18.4) in every format, and only when a key was restored."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from central.aws.expiry_item import ExpiryItem, Restored, State, epoch
from central.report.render_html import render_html
from central.report.render_text import csv_header, render_csv, render_table
from central.report.restores import CSV_COLUMN, restore_row
from central.report.rows import Report, RestoreRow
from tests.support.report_sample import sample_report

AT = datetime(2027, 3, 2, 9, 30, tzinfo=UTC)
UNTIL = datetime(2027, 3, 9, 9, 30, tzinfo=UTC)


def restored_report() -> Report:
    report = sample_report()
    restore = RestoreRow(at=AT, by="cli:ops", reason="deploy <broke>", until=UNTIL)
    rows = [
        row.model_copy(update={"pending": [row.pending[0].model_copy(update={"restored": restore})]})
        if row.user == "dave"
        else row
        for row in report.rows
    ]
    return report.model_copy(update={"rows": rows})


def test_the_item_s_restore_becomes_the_pending_row_s():
    item = ExpiryItem(
        account_id="111122223333",
        user_name="dave",
        old_key_id="AKIADAVEOLD000000001",
        state=State.SCHEDULED,
        started_at=epoch(AT),
        restored=Restored(at=epoch(AT), by="cli:ops", reason="why", days=7, base=epoch(AT), until=epoch(UNTIL)),
    )
    assert restore_row(item) == RestoreRow(at=AT, by="cli:ops", reason="why", until=UNTIL)
    assert restore_row(item.model_copy(update={"restored": None})) is None


def test_text_csv_and_html_name_the_restore():
    report = restored_report()
    line = (
        "restore: account 111122223333 user dave: AKIADAVEOLD000000001 restored 2027-03-02 09:30 UTC by cli:ops "
        "(deploy <broke>); retired again from 2027-03-09 09:30 UTC"
    )
    assert render_table(report).splitlines()[-1] == line

    records = list(csv.DictReader(io.StringIO(render_csv(report))))
    assert list(records[0]) == [*csv_header(), CSV_COLUMN]
    dave = next(record for record in records if record["user"] == "dave")
    assert dave[CSV_COLUMN] == line.split(": ", 1)[1].split(": ", 1)[1]
    assert {record[CSV_COLUMN] for record in records if record["user"] != "dave"} == {""}

    html = render_html(report)
    assert "restored 2027-03-02 09:30 UTC by cli:ops (deploy &lt;broke&gt;)" in html
    assert "deploy <broke>" not in html


def test_without_a_restore_every_format_is_as_before():
    report = sample_report()
    assert not [line for line in render_table(report).splitlines() if line.startswith("restore:")]
    assert render_csv(report).splitlines()[0].split(",") == csv_header()
    assert "<mark>" not in render_html(report)
