"""The reporter Lambda's one event: the org-wide report written to the central stack's bucket
(`central.report.publish`), a short summary mailed to ADMIN_EMAIL, the counts as metrics."""

from __future__ import annotations

from aws_lambda_powertools import Logger

from central.aws import clients as aws
from central.aws.s3 import Bucket
from central.collaborators import Services
from central.domain.errors import SettingsError
from central.invocations.answer import Answer
from central.report.collect import collect_report
from central.report.publish import mail_summary, publish, summary_mail
from central.report.render_html import render_html
from central.report.render_text import render_json

logger = Logger(service="ikr")


def publish_report(services: Services) -> Answer:
    settings = services.settings
    bucket = settings.IKR_REPORT_BUCKET
    if not bucket:
        raise SettingsError("IKR_REPORT_BUCKET is not set: the reporter writes the report to that S3 bucket")
    report = collect_report(services)
    region = services.central.region_name or aws.DEFAULT_REGION
    published = publish(
        Bucket(aws.s3(services.central), bucket), region, report, render_html(report), render_json(report)
    )
    subject, lines = summary_mail(report, published)
    mailed = bool(settings.ADMIN_EMAIL) and mail_summary(services.mailer, str(settings.ADMIN_EMAIL), subject, lines)
    s = report.summary
    counts = {
        "ReportAccounts": s.accounts,
        "ReportAccountsUnreachable": s.unreachable,
        "ReportManagedUsers": s.managed_users,
        "ReportDueNow": s.due_now,
        "ReportOverdue": s.overdue,
        "ReportUnmanagedRisk": s.unmanaged_risk,
        "ReportFailures": s.failures,
    }
    logger.info(f"report written to {published.s3_uri('html')}", extra={"summary": s.model_dump(), "mailed": mailed})
    return Answer({"bucket": bucket, "keys": published.keys, "summary": s.model_dump(), "mailed": mailed}, counts)
