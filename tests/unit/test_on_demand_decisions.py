"""Pure parts of issue 18 points 1 and 2: the on-demand verdict, the reason's rules, the exposure event.

The event sample is `tests/data/health_credentials_exposed.json` (its shape's source: the README beside it).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from central.domain.exposure import MalformedEvent, is_health_event, parse_exposure
from central.domain.model import KeyStatus
from central.domain.on_demand import EXPOSED, check_reason, due_on_demand, exposed_days
from central.domain.policy import Action, PendingOld, decide
from tests.unit.factories import NOW, account_scope, key, user

SAMPLE = Path(__file__).parents[1] / "data" / "health_credentials_exposed.json"
KEY_ID = "AKIAEXPOSED000000001"


def sample(account: str = "111122223333", key_id: str = KEY_ID) -> dict[str, Any]:
    text = SAMPLE.read_text().replace("ACCOUNT_ID", account).replace("ACCESS_KEY_ID", key_id)
    return dict(json.loads(text.replace("USER_NAME", "alice")))


def test_a_key_not_due_is_due_on_demand_with_its_reason():
    scheduled = decide(user(key(age_days=10)), account_scope(rotate=90), NOW, [])
    assert scheduled.action is Action.NOT_DUE

    decision = due_on_demand(scheduled, "left the team")

    assert not isinstance(decision, str)
    assert decision.action is Action.ROTATE
    assert decision.on_demand == "left the team"
    assert decision.reason == "due on demand (left the team); key AKIAOLD0000000000001 is 10 days old"
    assert decision.delete_after.days == 7  # the user's days, unless replaced


@pytest.mark.parametrize("age_days", [10, 200])
def test_an_exemption_holds_the_schedule_back_not_a_rotation_asked_for(age_days: int):
    tags = {"IKR:EXEMPT_UNTIL": f"{NOW:%Y}-12-31", "IKR:EXEMPT_REASON": "freeze; audit in progress"}
    scheduled = decide(user(key(age_days=age_days), extra=tags), account_scope(rotate=90), NOW, [])
    assert (scheduled.action, scheduled.exempt) == (Action.SKIP, True)

    decision = due_on_demand(scheduled, EXPOSED, exposed_days(1))

    assert not isinstance(decision, str)
    assert (decision.action, decision.exempt) == (Action.ROTATE, False)
    assert decision.reason == (
        f"due on demand (exposed); key AKIAOLD0000000000001 is {age_days} days old; "
        f"exempt through {NOW:%Y}-12-31 (IKR:EXEMPT_UNTIL): freeze; audit in progress, set aside"
    )


def test_an_exposed_key_keeps_the_old_key_its_own_days():
    scheduled = decide(user(key(age_days=200)), account_scope(rotate=90), NOW, [])
    decision = due_on_demand(scheduled, EXPOSED, exposed_days(1))
    assert not isinstance(decision, str)
    assert decision.action is Action.ROTATE
    assert (decision.delete_after.days, str(decision.delete_after.source)) == (1, "setting EXPOSED_DELETE_AFTER_DAYS")


@pytest.mark.parametrize(
    ("keys", "pending", "refusal"),
    [
        ((key("AKIAA"), key("AKIAB", age_days=3)), [], "has two access keys"),
        ((), [], "has no access key"),
        ((key(status=KeyStatus.INACTIVE),), [], "is inactive"),
        (
            (key("AKIAOLD"), key("AKIANEW", age_days=1)),
            [PendingOld(key_id="AKIAOLD", expires_at=NOW)],
            "not rotated: already rotated; old key AKIAOLD is due for deletion",
        ),
    ],
)
def test_what_the_schedule_would_skip_is_refused(keys, pending, refusal):
    verdict = due_on_demand(decide(user(*keys), account_scope(), NOW, pending), "why")
    assert isinstance(verdict, str)
    assert refusal in verdict


def test_a_bad_tag_is_refused_with_the_tag_named():
    bad = user(key(), extra={"IKR:ROTATE_AFTER_DAYS": "ninety"})
    verdict = due_on_demand(decide(bad, account_scope(), NOW, []), "why")
    assert isinstance(verdict, str)
    assert "IKR:ROTATE_AFTER_DAYS" in verdict


@pytest.mark.parametrize(
    ("reason", "problem"),
    [("", "is empty"), ("   ", "is empty"), ("x" * 201, "at most 200"), ("two\nlines", "one line")],
)
def test_a_reason_is_one_short_line(reason, problem):
    with pytest.raises(ValueError, match=problem):
        check_reason(reason)


def test_a_reason_is_kept_trimmed():
    assert check_reason("  rotated after the audit ") == "rotated after the audit"


def test_the_sample_event_is_read():
    event = sample()
    assert is_health_event(event)
    exposure = parse_exposure(event)
    assert exposure.account_id == "111122223333"
    assert exposure.key_ids == (KEY_ID,)
    assert "https://github.com/example-org/example-repo" in exposure.description
    assert exposure.event_id == "7bf73129-1428-4cd3-a780-95db273d1602"
    assert exposure.event_arn.endswith("AWS_RISK_CREDENTIALS_EXPOSED_5fe2c8b1")


def test_an_organizational_view_event_names_the_affected_account():
    event = sample(account="999988887777")
    event["detail"]["affectedAccount"] = "111122223333"
    assert parse_exposure(event).account_id == "111122223333"


def _without(path: list[str]) -> dict[str, Any]:
    event = copy.deepcopy(sample())
    node: Any = event
    for part in path[:-1]:
        node = node[part]
    del node[path[-1]]
    return event


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (_without(["detail"]), "without a `detail` map"),
        (_without(["detail", "affectedEntities"]), "no `detail.affectedEntities`"),
        (_without(["account"]), "is not a 12-digit AWS account id"),
        (
            {**sample(), "detail": {**sample()["detail"], "eventTypeCode": "AWS_EC2_MAINTENANCE"}},
            "ikr acts on no other",
        ),
        (
            {**sample(), "detail": {**sample()["detail"], "affectedEntities": [{"entityValue": "i-0abc"}]}},
            "affectedEntities[0] 'i-0abc' is not an access key id",
        ),
        (
            {**sample(), "detail": {**sample()["detail"], "affectedEntities": ["AKIA"]}},
            "affectedEntities[0] is a string, not a map with an entityValue",
        ),
    ],
)
def test_a_malformed_event_says_what_is_wrong(event, message):
    with pytest.raises(MalformedEvent) as raised:
        parse_exposure(event)
    assert message in str(raised.value)


def test_a_missing_description_is_not_an_error():
    event = sample()
    event["detail"]["eventDescription"] = "not a list"
    assert parse_exposure(event).description == ""
