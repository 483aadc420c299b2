"""AWS Health's AWS_RISK_CREDENTIALS_EXPOSED event, read: which account, which key ids, where found.

The shape is AWS Health's EventBridge event (sample: `tests/data/health_credentials_exposed.json`,
after aws/aws-health-tools' `automated-actions/AWS_RISK_CREDENTIALS_EXPOSED/README.md` and AWS
Health's event reference): `source` "aws.health", `account` the affected account (kept when a member
account's rule forwards the event to the central bus; an organizational-view event names it in
`detail.affectedAccount`), the key ids in `detail.affectedEntities[].entityValue`, the text AWS
wrote (where the key was found) in `detail.eventDescription[].latestDescription`. Pure: no AWS.
"""

from __future__ import annotations

import re
from typing import Any

from central.domain.errors import IkrError
from central.domain.model import Frozen, json_kind

SOURCE = "aws.health"
EVENT_TYPE = "AWS_RISK_CREDENTIALS_EXPOSED"
_ACCOUNT = re.compile(r"\d{12}")
_KEY_ID = re.compile(r"AKIA[A-Z0-9]{16}")
_MAX_DESCRIPTION = 2_000  # kept for the notices; AWS's text is a paragraph


class MalformedEvent(IkrError):
    """Not an exposure event ikr can act on; the message says what is wrong with it."""


class Exposure(Frozen):
    account_id: str
    key_ids: tuple[str, ...]
    description: str  # AWS's words: where the key was found, what AWS did (its quarantine policy)
    event_id: str  # EventBridge's id of the event: the same on every redelivery
    event_arn: str  # AWS Health's event ARN
    found_at: str  # the event's `time`, as AWS wrote it
    # None: AWS Health reported it (and attached its quarantine policy); else who did (`ikr exposed`).
    reported_by: str | None = None


def is_health_event(event: object) -> bool:
    return isinstance(event, dict) and event.get("source") == SOURCE


def parse_exposure(event: dict[str, Any]) -> Exposure:
    """The exposure the event reports; MalformedEvent naming the first thing that is wrong."""
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise MalformedEvent(f"AWS Health event without a `detail` map ({json_kind(detail)})")
    code = detail.get("eventTypeCode")
    if code != EVENT_TYPE:
        raise MalformedEvent(f"AWS Health event {code!r} is not {EVENT_TYPE}; ikr acts on no other")
    account = detail.get("affectedAccount") or event.get("account")
    if not isinstance(account, str) or not _ACCOUNT.fullmatch(account):
        raise MalformedEvent(f"{EVENT_TYPE} event: account {account!r} is not a 12-digit AWS account id")
    entities = detail.get("affectedEntities")
    if not isinstance(entities, list) or not entities:
        raise MalformedEvent(f"{EVENT_TYPE} event for account {account}: no `detail.affectedEntities`")
    keys: list[str] = []
    for position, entity in enumerate(entities):
        if not isinstance(entity, dict):
            raise MalformedEvent(
                f"{EVENT_TYPE} event for account {account}: affectedEntities[{position}] is {json_kind(entity)}, "
                "not a map with an entityValue"
            )
        value = entity.get("entityValue")
        if not isinstance(value, str) or not _KEY_ID.fullmatch(value):
            shown = value if isinstance(value, str) and len(value) <= 40 else json_kind(value)
            raise MalformedEvent(
                f"{EVENT_TYPE} event for account {account}: affectedEntities[{position}] {shown!r} is not an "
                "access key id (AKIA followed by 16 letters or digits)"
            )
        if value not in keys:
            keys.append(value)
    return Exposure(
        account_id=account,
        key_ids=tuple(keys),
        description=_description(detail.get("eventDescription")),
        event_id=str(event.get("id") or detail.get("eventArn") or "?"),
        event_arn=str(detail.get("eventArn") or "?"),
        found_at=str(event.get("time") or detail.get("startTime") or "?"),
    )


def _description(descriptions: object) -> str:
    """AWS's text in English if there, else the first there is; "" without one (not an error: the
    key id is what ikr acts on)."""
    if not isinstance(descriptions, list):
        return ""
    texts: list[tuple[object, str]] = [
        (entry.get("language"), str(entry["latestDescription"]))
        for entry in descriptions
        if isinstance(entry, dict) and isinstance(entry.get("latestDescription"), str)
    ]
    english = [text for language, text in texts if language == "en_US"]
    chosen = english[0] if english else (texts[0][1] if texts else "")
    return chosen[:_MAX_DESCRIPTION]
