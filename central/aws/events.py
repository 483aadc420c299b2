"""EventBridge: ikr's lifecycle events put on one event bus (`events:PutEvents`).

PutEvents answers 200 even when it refused the entry: the refusal is in the answer's `Entries`
(`FailedEntryCount`, an `ErrorCode` per entry). A refused entry is a failure like a refused call,
and comes out as the same `AwsError` kind its code names (central.aws.errors).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from central.aws.errors import aws_call, translate

DEFAULT_BUS = "default"
OPERATION = "events:PutEvents"


class EventBus:
    """One bus, by name or ARN (an ARN reaches a bus in another account or region)."""

    def __init__(self, client: Any, bus: str = DEFAULT_BUS) -> None:
        self._client = client
        self.bus = bus

    def put(self, source: str, detail_type: str, detail: dict[str, Any], time: datetime | None = None) -> str:
        """Publish one event; its EventBridge id. An `AwsError` when the call or the entry was refused."""
        entry: dict[str, Any] = {
            "Source": source,
            "DetailType": detail_type,
            "Detail": json.dumps(detail, sort_keys=True),
            "EventBusName": self.bus,
        }
        if time is not None:
            entry["Time"] = time
        where = f"event bus {self.bus}"
        with aws_call(OPERATION, where):
            answer = self._client.put_events(Entries=[entry])
        entries = answer.get("Entries") or [{}]
        if not answer.get("FailedEntryCount") and entries[0].get("EventId"):
            return str(entries[0]["EventId"])
        code = str(entries[0].get("ErrorCode") or "EntryNotAccepted")
        message = str(entries[0].get("ErrorMessage") or "the entry was not accepted")
        # The entry's own error, translated as if the call had failed with it (same kinds, same message).
        raise translate(ClientError({"Error": {"Code": code, "Message": message}}, "PutEvents"), OPERATION, where)
