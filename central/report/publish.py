"""The reporter's output: the report written to the central stack's S3 bucket, and the admin's summary.

Keys: `reports/<YYYY-MM-DD>/ikr-report.json` and `.html` (one pair per day: a second run that day
replaces it), and the same content at `reports/latest.json` / `reports/latest.html`, a stable
address to bookmark. The mail links to the S3 console and gives the s3:// location, not a
presigned URL: the report lists every key id and owner of the Organization, a presigned URL is a
bearer link anyone the mail reaches can open, and one signed with a Lambda role's temporary
credentials stops working when they expire (hours), long before anyone reads an old mail. The
console link asks for a login with access to the bucket, so the bucket's policy decides who reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from urllib.parse import quote

from aws_lambda_powertools import Logger

from central.aws import partition
from central.aws.errors import AwsError, AwsNotFound
from central.aws.s3 import Bucket
from central.domain.errors import DeliveryError, IkrError, SettingsError
from central.notify.mailers.base import Mail, Mailer
from central.report.render_text import summary_line
from central.report.rows import Report

logger = Logger(service="ikr")

PREFIX = "reports"
_TYPES = {"json": "application/json", "html": "text/html; charset=utf-8"}


class PublishError(IkrError):
    """The report could not be written to the bucket."""


@dataclass(frozen=True)
class Published:
    bucket: str
    region: str
    keys: dict[str, str]  # "json", "html", "latest.json", "latest.html" -> object key

    def s3_uri(self, name: str) -> str:
        return f"s3://{self.bucket}/{self.keys[name]}"

    def console_url(self, name: str) -> str | None:
        """The object in the S3 console of the bucket's partition (China and GovCloud have their own)."""
        console = partition.for_region(self.region).s3_console
        if console is None:
            return None
        where = f"region={quote(self.region)}&prefix={quote(self.keys[name], safe='')}"
        return f"{console}/object/{quote(self.bucket)}?{where}"


def object_keys(report: Report) -> dict[str, str]:
    day = f"{report.generated_at:%Y-%m-%d}"
    return {
        "json": f"{PREFIX}/{day}/ikr-report.json",
        "html": f"{PREFIX}/{day}/ikr-report.html",
        "latest.json": f"{PREFIX}/latest.json",
        "latest.html": f"{PREFIX}/latest.html",
    }


def publish(bucket: Bucket, region: str, report: Report, html: str, json_text: str) -> Published:
    """Write the dated pair, then the `latest` pair (so `latest` never names a report not yet written)."""
    keys = object_keys(report)
    bodies = {"json": json_text, "html": html}
    try:
        for name, key in keys.items():
            kind = name.rsplit(".", 1)[-1]
            bucket.put(key, bodies[kind].encode("utf-8"), _TYPES[kind])
    except AwsNotFound:  # PutObject's only "not found" is the bucket's
        raise SettingsError(
            f"report bucket {bucket.name} does not exist: set IKR_REPORT_BUCKET to the central stack's report bucket"
        ) from None
    except AwsError as exc:
        raise PublishError(f"report bucket {bucket.name}: {exc.reason}") from None
    return Published(bucket=bucket.name, region=region, keys=keys)


def summary_mail(report: Report, published: Published) -> tuple[str, list[str]]:
    """The admin's short summary: subject and lines."""
    s = report.summary
    subject = (
        f"report {report.generated_at:%Y-%m-%d}: {s.due_now} due, {s.overdue} overdue, {s.failures} failure(s), "
        f"{s.unmanaged_risk} unmanaged at risk"
    )
    console = published.console_url("html")
    lines = [
        summary_line(report),
        "",
        *([f"Open the report (AWS console login): {console}"] if console else []),
        f"HTML: {published.s3_uri('html')}",
        f"JSON: {published.s3_uri('json')}",
        f"Always the newest: {published.s3_uri('latest.html')}",
    ]
    trouble = [a for a in report.accounts if a.state.value in ("unreachable", "bad-tags")]
    if trouble:
        lines.extend(["", "Accounts ikr could not work:"])
        lines.extend(f"{a.account_id} ({a.account_name}): {a.detail}" for a in trouble[:20])
        if len(trouble) > 20:
            lines.append(f"... and {len(trouble) - 20} more (see the report)")
    return subject, lines


def mail_summary(mailer: Mailer, address: str, subject: str, lines: list[str]) -> bool:
    """The summary to the administrator; a mail system that is down is logged, never fatal (the report is
    written already)."""
    text = "\n".join([*lines, "", "-- ikr, IAM key rotation"])
    html = "<html><body>" + "".join(f"<p>{escape(line)}</p>" for line in lines if line) + "</body></html>"
    try:
        mailer.send(Mail(to=address, subject=f"[ikr] {subject}", text=text, html=html))
    except DeliveryError as exc:
        logger.error("report summary not mailed", extra={"reason": str(exc)})
        return False
    return True
