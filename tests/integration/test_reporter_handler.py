"""The reporter Lambda: the report to the central stack's bucket, a short summary to ADMIN_EMAIL, EMF metrics."""

from __future__ import annotations

import json

import boto3
import pytest
from moto.ses.models import ses_backends

from central.aws.expiry_table import ExpiryTable
from central.aws.stream_pump import LocalLambdaContext
from central.domain.errors import SettingsError
from central.report.rows import Report
from handlers import reporter
from tests.integration.conftest import TABLE, default_spec
from tests.integration.fixtures_extra import LATER
from tests.support.world import build_world


@pytest.fixture(autouse=True)
def _fresh_metrics() -> None:
    """The handler's Metrics live in its module: drop what an earlier test's invocation left behind."""
    from handlers import reporter

    reporter.metrics.clear_metrics()


BUCKET = "ikr-reports-test"
EVENT = {"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}
CONTEXT = LocalLambdaContext(function_name="ikr-reporter")


@pytest.fixture
def lambda_env(central: boto3.Session, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    world = build_world(central, default_spec())
    for account_id in world.account_ids.values():  # IAM has a fresh credential report: nothing to wait for
        world.session(account_id).client("iam").generate_credential_report()
    ExpiryTable(central.client("dynamodb"), TABLE).create()
    central.client("ses").verify_email_identity(EmailAddress="ikr@example.com")
    for name, value in {
        "MAIL_FROM": "ikr@example.com",
        "IAM_KEY_ROTATOR_TABLE": TABLE,
        "IKR_NOW": LATER.isoformat(),
        "IKR_REPORT_BUCKET": BUCKET,
        "ADMIN_EMAIL": "secops@example.com",
    }.items():
        monkeypatch.setenv(name, value)
    return world.account_ids


def test_the_report_lands_in_the_bucket_and_the_admin_gets_the_summary(
    central: boto3.Session, lambda_env: dict[str, str], capsys: pytest.CaptureFixture[str]
):
    s3 = central.client("s3")
    s3.create_bucket(Bucket=BUCKET)

    result = reporter.handler(EVENT, CONTEXT)

    # THEN the dated pair and the latest pair are in the bucket, the JSON is the report model
    day = f"{LATER:%Y-%m-%d}"
    listed = sorted(obj["Key"] for obj in s3.list_objects_v2(Bucket=BUCKET)["Contents"])
    dated = [f"reports/{day}/ikr-report.html", f"reports/{day}/ikr-report.json"]
    assert listed == [*dated, "reports/latest.html", "reports/latest.json"]
    latest = s3.get_object(Bucket=BUCKET, Key="reports/latest.json")
    report = Report.model_validate_json(latest["Body"].read())
    assert report.summary.due_now == 2  # alice and dave, 100 days on
    assert s3.head_object(Bucket=BUCKET, Key="reports/latest.html")["ContentType"] == "text/html; charset=utf-8"
    assert result["summary"]["due_now"] == 2
    # AND the administrator got one short mail that says where the report is
    sent = ses_backends["123456789012"]["us-east-1"].sent_messages
    assert [(m.destinations["ToAddresses"], m.subject) for m in sent] == [
        (["secops@example.com"], f"[ikr] report {day}: 2 due, 2 overdue, 1 failure(s), 1 unmanaged at risk")
    ]
    assert f"s3://{BUCKET}/reports/{day}/ikr-report.html" in sent[0].body
    # (SES keeps the HTML part: the link's & is escaped there)
    assert "https://s3.console.aws.amazon.com/s3/object/ikr-reports-test?region=us-east-1&amp;prefix=reports%2F" in (
        sent[0].body
    )
    # AND the counts reach CloudWatch as EMF
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    assert [(m["ReportDueNow"], m["ReportUnmanagedRisk"], m["ReportAccounts"]) for m in emf] == [([2.0], [1.0], [4.0])]


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_a_missing_bucket_is_a_clear_settings_error(lambda_env: dict[str, str]):
    with pytest.raises(SettingsError, match=f"report bucket {BUCKET} does not exist: set IKR_REPORT_BUCKET"):
        reporter.handler(EVENT, CONTEXT)


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_without_a_bucket_setting_nothing_is_read(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MAIL_FROM", "ikr@example.com")

    with pytest.raises(SettingsError, match="IKR_REPORT_BUCKET is not set"):
        reporter.handler(EVENT, CONTEXT)
