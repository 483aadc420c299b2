"""The rotator Lambda's events that ask for work now, parsed and answered:

- `{"ikr": "rotate", "account": "<12 digits>", "user": "<name>", "reason": "<text>"}` (user optional:
  every opted-in user of the account), sent by an administrator with `aws lambda invoke`: the
  on-demand rotation (`central.rotation.on_demand`); answered with the run's result, or with
  `{"refused": "<why>"}` for a bad event or a refusal (nothing was changed);
- an AWS Health event (`"source": "aws.health"`, AWS_RISK_CREDENTIALS_EXPOSED) that a member
  account's rule forwarded to the central bus: the exposed key handled (`central.rotation.exposure`);
  answered with what was done per key. A malformed one is answered with `{"error": "<why>"}`, logged
  and told to the administrator with the event's id, time and account (a retry could not mend it);
  one that must wait for a rotation under way raises, so Lambda's retries and then its dead-letter
  queue bring it back.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from central.collaborators import Services
from central.domain.exposure import MalformedEvent, is_health_event, parse_exposure
from central.domain.on_demand import check_reason
from central.notify.run_notices import notify_failures
from central.rotation.exposure import handle_exposure
from central.rotation.on_demand import OnDemand, OnDemandRefused, rotate_on_demand

logger = Logger(service="ikr")


class RotateEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt "usr" is refused, not read as "every user"

    ikr: str
    account: str = Field(pattern=r"^[0-9]{12}$")
    user: str | None = Field(None, min_length=1, max_length=64)
    reason: str

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        return check_reason(value)


def answer(services: Services, event: dict[str, Any]) -> dict[str, Any]:
    if is_health_event(event):
        return _exposure(services, event)
    try:
        asked = RotateEvent.model_validate(event)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'event'}: {error['msg']}"
            for error in exc.errors(include_url=False, include_input=False)
        )
        logger.error("on-demand rotation event refused", reason=problems)
        return {"refused": f"not a rotate event: {problems}"}
    request = OnDemand(account_id=asked.account, user=asked.user, reason=asked.reason)
    try:
        result = rotate_on_demand(services, request)
    except OnDemandRefused as exc:
        logger.warning("on-demand rotation refused", reason=str(exc))
        return {"refused": str(exc)}
    notify_failures(services.admin, result)
    return result.model_dump(mode="json")


def _exposure(services: Services, event: dict[str, Any]) -> dict[str, Any]:
    try:
        exposure = parse_exposure(event)
    except MalformedEvent as exc:
        where = (
            f"event id {event.get('id')!s:.80}, time {event.get('time')!s:.40}, account {event.get('account')!s:.20}"
        )
        logger.error("AWS Health event not acted on", reason=str(exc), event=where)
        services.admin.notify(
            "AWS Health event not acted on",
            [str(exc), f"The event: {where}. Look it up in the AWS Health dashboard of that account."],
        )
        return {"error": str(exc)}
    handled = handle_exposure(services, exposure)
    return {
        "exposure": exposure.event_arn,
        "account": exposure.account_id,
        "keys": [entry.model_dump(mode="json") for entry in handled],
    }
