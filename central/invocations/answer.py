"""A Lambda invocation's answer: the body the function returns and the counts it emits as metrics."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit


@dataclass(frozen=True)
class Answer:
    body: dict[str, Any]
    metrics: dict[str, int] = field(default_factory=dict)  # CloudWatch metric name -> count


def emit(metrics: Metrics, counts: Mapping[str, int]) -> None:
    """The counts as CloudWatch metrics (unit Count), in name order."""
    for name, value in sorted(counts.items()):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
