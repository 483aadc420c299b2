"""When the administrator was last told that the mail system's daily quota ran out: one item in the
expiry table's run partition, so that the account worker Lambdas of a fan-out run (each its own
invocation, each meeting the quota with its first mail) tell once between them, not once each.

The claim is one conditional PutItem: written where no notice is, or where the last one is older than
the quiet time; the invocation whose write succeeds tells. Nothing else reads the item.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from central.aws.errors import AwsConditionFailed, aws_call
from central.aws.expiry_item import RUN_PARTITION, epoch

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

SORT_KEY = "mail-quota-notice"
# A run (its fan-out included) tells once; the next day's run, if the quota is still used up, again.
QUIET = timedelta(hours=12)


class QuotaNotices:
    def __init__(self, dynamodb: DynamoDBClient, table_name: str) -> None:
        self._db = dynamodb
        self.name = table_name

    def claim(self, now: datetime) -> bool:
        """True for the first caller within QUIET of the last notice; an AwsError if the table fails."""
        try:
            with aws_call("dynamodb:PutItem", f"table {self.name} mail-quota notice"):
                self._db.put_item(
                    TableName=self.name,
                    Item={
                        "account_id": {"S": RUN_PARTITION},
                        "item_key": {"S": SORT_KEY},
                        "told_at": {"N": str(epoch(now))},
                    },
                    ConditionExpression="attribute_not_exists(item_key) OR told_at <= :since",
                    ExpressionAttributeValues={":since": {"N": str(epoch(now - QUIET))}},
                )
        except AwsConditionFailed:
            return False
        return True
