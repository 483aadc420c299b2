"""The expiry table's creation and the checks every command makes first: `ikr bootstrap` creates it
with its stream, TTL and the due-retries index (an older table gets the index added); every command
reads its description first, so a missing table, missing credentials or someone else's table of
that name (the original tool's) is a setting to fix, said so (exit code 2)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError, NoCredentialsError

from central.aws.expiry_item import TTL_ATTRIBUTE
from central.aws.expiry_table_part import TablePart
from central.aws.original_table import refuse_foreign_schema
from central.aws.retry_marks import INDEX, INDEX_ATTRIBUTES
from central.domain.errors import SettingsError


class TableSetup(TablePart):
    """What `ExpiryTable` does to the table itself, rather than to its items."""

    # -- set-up ---------------------------------------------------------------------------------
    def create(self) -> bool:
        """Create the table with stream and TTL; False when it was there already (TTL is ensured)."""
        with self._call("CreateTable"):
            return self._create()

    def _create(self) -> bool:
        created = True
        try:
            self._db.create_table(
                TableName=self.name,
                AttributeDefinitions=[
                    {"AttributeName": "account_id", "AttributeType": "S"},
                    {"AttributeName": "item_key", "AttributeType": "S"},
                    *INDEX_ATTRIBUTES,
                ],
                KeySchema=[
                    {"AttributeName": "account_id", "KeyType": "HASH"},
                    {"AttributeName": "item_key", "KeyType": "RANGE"},
                ],
                GlobalSecondaryIndexes=[INDEX],
                BillingMode="PAY_PER_REQUEST",
                StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceInUseException":
                raise
            created = False
            # Someone else's table of that name (the original tool's) is refused before TTL is touched.
            refuse_foreign_schema(self.name, self._db.describe_table(TableName=self.name)["Table"])
        self._db.get_waiter("table_exists").wait(TableName=self.name)
        if not created:
            self._ensure_retry_index()
        ttl = self._db.describe_time_to_live(TableName=self.name)["TimeToLiveDescription"]
        if ttl.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
            self._db.update_time_to_live(
                TableName=self.name, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
            )
        return created

    def _ensure_retry_index(self) -> None:
        """A table made before the due-retries index gets it (DynamoDB fills it from the items)."""
        table = self._db.describe_table(TableName=self.name)["Table"]
        if any(index["IndexName"] == INDEX["IndexName"] for index in table.get("GlobalSecondaryIndexes", [])):
            return
        self._db.update_table(
            TableName=self.name,
            AttributeDefinitions=INDEX_ATTRIBUTES,
            GlobalSecondaryIndexUpdates=[
                {
                    "Create": {
                        "IndexName": INDEX["IndexName"],
                        "KeySchema": INDEX["KeySchema"],
                        "Projection": INDEX["Projection"],
                    }
                }
            ],
        )

    def _describe(self) -> dict[str, Any]:
        with self._call("DescribeTable"):
            try:
                table = dict(self._db.describe_table(TableName=self.name)["Table"])
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                    raise
                raise SettingsError(
                    f"expiry table {self.name} does not exist here: run `ikr bootstrap`, or set "
                    "IAM_KEY_ROTATOR_TABLE to the table of your central stack"
                ) from None
            except NoCredentialsError:
                # Usually the first AWS call of a command: a setting to fix, said so (exit code 2).
                raise SettingsError("no AWS credentials found (set AWS_PROFILE or the AWS_* variables)") from None
        refuse_foreign_schema(self.name, table)  # every command reads the table's description first
        return table

    def check(self) -> None:
        """Fail early, with a message saying what to do, when the table is missing."""
        self._describe()

    def stream_arn(self) -> str:
        arn = self._describe().get("LatestStreamArn")
        if not isinstance(arn, str) or not arn:
            raise SettingsError(f"table {self.name} has no stream: it was not made by `ikr bootstrap`")
        return arn
