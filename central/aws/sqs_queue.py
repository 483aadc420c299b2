"""An SQS queue as the account fan-out sends to it: SendMessageBatch, and which entries SQS refused.

botocore retries a call that failed; entries SQS refused inside a good answer are not retried by it.
A refusal is `final` when there is no point sending the entry again: SQS blames the message itself
(SenderFault), or the whole call failed after botocore's own retries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from central.aws.errors import AwsError, aws_call

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


@dataclass(frozen=True)
class Refused:
    reason: str
    final: bool  # no point sending it again (the message is at fault, or botocore already retried)


class SqsQueue:
    def __init__(self, sqs: SQSClient, url: str) -> None:
        self._sqs = sqs
        self.url = url

    def send_batch(self, bodies: Mapping[str, str]) -> dict[str, Refused]:
        """Send each body under its entry id (at most 10); the entries SQS did not take, and why."""
        try:
            with aws_call("sqs:SendMessageBatch", f"queue {self.url}"):
                response = self._sqs.send_message_batch(
                    QueueUrl=self.url, Entries=[{"Id": entry, "MessageBody": body} for entry, body in bodies.items()]
                )
        except AwsError as exc:
            return dict.fromkeys(bodies, Refused(exc.reason, final=True))
        return {
            failed["Id"]: Refused(
                f"{failed['Code']}: {failed.get('Message', '')}".rstrip(": "), final=failed["SenderFault"]
            )
            for failed in response.get("Failed", [])
        }
