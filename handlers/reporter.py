"""Scheduled reporter: the org-wide report to the central stack's S3 bucket, a short summary to ADMIN_EMAIL.

Writes `reports/<date>/ikr-report.json` / `.html` and `reports/latest.json` / `.html` to
IKR_REPORT_BUCKET (see `central.report.publish`), mails the administrator the counts and where the
report is, through the same mailer as the key mails, and emits the counts as EMF metrics.
"""

from __future__ import annotations

import gc

# No automatic collection while the imports below build their objects: each would walk everything
# imported so far again and again (~10% of a cold start). settle_garbage_collector() turns it back on.
gc.disable()

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from central.invocations.answer import emit
from central.invocations.reporter import publish_report
from central.settings import load_settings
from central.startup import settle_garbage_collector
from central.wiring import lambda_time_left, warm_services

logger = Logger(service="ikr")
metrics = Metrics(namespace="ikr", service="reporter")
settle_garbage_collector()  # once per execution environment, after the imports


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """The report (`central.invocations.reporter`); its counts as metrics. It reads keys, never changes them."""
    services = warm_services(load_settings(), purpose="report", changes_keys=False, time_left=lambda_time_left(context))
    answer = publish_report(services)
    emit(metrics, answer.metrics)
    return answer.body
