"""Scheduled reporter: the org-wide report to the central stack's S3 bucket, a short summary to ADMIN_EMAIL.

Writes `reports/<date>/ikr-report.json` / `.html` and `reports/latest.json` / `.html` to
IKR_REPORT_BUCKET (see `central.report.publish`), mails the administrator the counts and where the
report is, through the same mailer as the key mails, and emits the counts as EMF metrics.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from central.aws import clients as aws
from central.aws.s3 import Bucket
from central.domain.errors import SettingsError
from central.report.collect import collect_report
from central.report.publish import mail_summary, publish, summary_mail
from central.report.render_html import render_html
from central.report.render_text import render_json
from central.settings import Settings, load_settings
from central.startup import settle_garbage_collector
from central.wiring import lambda_time_left, warm_services

logger = Logger(service="ikr")
metrics = Metrics(namespace="ikr", service="reporter")
settle_garbage_collector()  # once per execution environment, after the imports


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings: Settings = load_settings()
    bucket = settings.IKR_REPORT_BUCKET
    if not bucket:
        raise SettingsError("IKR_REPORT_BUCKET is not set: the reporter writes the report to that S3 bucket")
    services = warm_services(
        settings, purpose="report", changes_keys=False, time_left=lambda_time_left(context)
    )  # it reads keys, never changes them
    report = collect_report(services)
    region = services.central.region_name or aws.DEFAULT_REGION
    published = publish(
        Bucket(aws.s3(services.central), bucket), region, report, render_html(report), render_json(report)
    )
    subject, lines = summary_mail(report, published)
    mailed = bool(settings.ADMIN_EMAIL) and mail_summary(services.mailer, str(settings.ADMIN_EMAIL), subject, lines)
    s = report.summary
    for name, value in (
        ("ReportAccounts", s.accounts),
        ("ReportAccountsUnreachable", s.unreachable),
        ("ReportManagedUsers", s.managed_users),
        ("ReportDueNow", s.due_now),
        ("ReportOverdue", s.overdue),
        ("ReportUnmanagedRisk", s.unmanaged_risk),
        ("ReportFailures", s.failures),
    ):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    logger.info(f"report written to {published.s3_uri('html')}", extra={"summary": s.model_dump(), "mailed": mailed})
    return {"bucket": bucket, "keys": published.keys, "summary": s.model_dump(), "mailed": mailed}
