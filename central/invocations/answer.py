"""A Lambda invocation's answer: the body the function returns and the counts it emits as metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Answer:
    body: dict[str, Any]
    metrics: dict[str, int] = field(default_factory=dict)  # CloudWatch metric name -> count
