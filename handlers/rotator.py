"""Scheduled rotator: discovery, sweep of overdue expiry items, rotation of every opted-in account."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from central.results import Outcome
from central.run import run_rotation
from central.services import build_services
from central.settings import load_settings

logger = Logger(service="ikr")
metrics = Metrics(namespace="ikr", service="rotator")


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    services = build_services(load_settings(), purpose="rotate")
    result = run_rotation(services)
    metrics.add_metric(name="AccountsScanned", unit=MetricUnit.Count, value=len(result.accounts))
    metrics.add_metric(
        name="AccountsFailed", unit=MetricUnit.Count, value=sum(1 for account in result.accounts if account.failed)
    )
    for outcome in (Outcome.ROTATED, Outcome.NOT_DUE, Outcome.SKIPPED, Outcome.FAILED, Outcome.RECOVERED):
        metrics.add_metric(
            name=f"Users{outcome.value.title().replace('-', '')}", unit=MetricUnit.Count, value=result.total(outcome)
        )
    metrics.add_metric(name="ExpiryItemsSwept", unit=MetricUnit.Count, value=result.swept)
    return result.model_dump(mode="json")
