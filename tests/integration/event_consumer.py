"""What a consumer of ikr's lifecycle events sets up, for the tests that read them: an Organization
with two users, and a rule on the default bus whose target is an SQS queue."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from tests.support.world import AccountSpec, OrgSpec, UserSpec

LATER = datetime.now(UTC).replace(microsecond=0) + timedelta(days=100)
# ann (prod) is due at LATER; ben (dev) never is.
SPEC = OrgSpec(
    ous={"Work": {"IKR:ENABLED": "true"}},
    accounts=[
        AccountSpec(
            "prod", "Work", {"IKR:DELETE_AFTER_DAYS": "3"}, [UserSpec("ann", {"IKR:EMAIL": "ann@example.com"})]
        ),
        AccountSpec(
            "dev", "Work", {}, [UserSpec("ben", {"IKR:EMAIL": "ben@example.com", "IKR:ROTATE_AFTER_DAYS": "900"})]
        ),
    ],
)


def consumer(central: boto3.Session, pattern: dict[str, Any], name: str = "ikr-consumer") -> str:
    """A rule on the default bus with an SQS queue as its target; the queue's URL."""
    sqs = central.client("sqs")
    url: str = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events = central.client("events")
    events.put_rule(Name=name, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=name, Targets=[{"Id": "queue", "Arn": arn}])
    return url


def received(central: boto3.Session, url: str) -> list[dict[str, Any]]:
    """Every event the queue holds, in order, taken off it."""
    sqs = central.client("sqs")
    bodies: list[dict[str, Any]] = []
    while page := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in page:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies
