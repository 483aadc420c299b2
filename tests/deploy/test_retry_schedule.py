"""The retry schedule in the central template: every RETRY_AFTER_MINS, the rotator with the retry event,
over the table's due-retries index as the code defines it. (That the rotator's role may make the
retry run's calls is proven by tests/deploy/test_permissions.py, which records one.)"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from central.aws.retry_marks import INDEX, INDEX_ATTRIBUTES
from central.deploy import template
from central.settings import Settings
from handlers.rotator import RETRY_EVENT


@pytest.fixture(scope="module")
def central() -> dict[str, Any]:
    return template.load(template.CENTRAL_TEMPLATE)


def schedule_for(central: dict[str, Any], minutes: int) -> str:
    """The rule's ScheduleExpression as CloudFormation resolves it for RetryAfterMins = `minutes`."""
    expression = central["Resources"]["RetryScheduleRule"]["Properties"]["ScheduleExpression"]
    condition, if_true, if_false = expression["Fn::If"]
    equals = central["Conditions"][condition]["Fn::Equals"]
    assert equals[0] == {"Ref": "RetryAfterMins"}
    chosen = if_true if minutes == int(equals[1]) else if_false
    text = chosen["Fn::Sub"] if isinstance(chosen, dict) else chosen
    return str(text).replace("${RetryAfterMins}", str(minutes))


@pytest.mark.parametrize(
    ("minutes", "expected"), [(1, "rate(1 minute)"), (5, "rate(5 minutes)"), (10080, "rate(10080 minutes)")]
)
def test_the_retry_rule_runs_every_retry_after_mins(central: dict[str, Any], minutes: int, expected: str) -> None:
    assert schedule_for(central, minutes) == expected
    # EventBridge's grammar: a whole number, then "minute" for 1 and "minutes" otherwise.
    assert re.fullmatch(r"rate\((1 minute|([2-9]|[1-9]\d+) minutes)\)", expected)


def test_the_default_rate_is_the_settings_default(central: dict[str, Any]) -> None:
    parameter = central["Parameters"]["RetryAfterMins"]
    default = Settings.model_fields["RETRY_AFTER_MINS"].default
    assert parameter["Default"] == default == 5
    assert schedule_for(central, parameter["Default"]) == "rate(5 minutes)"


def test_the_retry_rule_invokes_the_rotator_with_the_retry_event(central: dict[str, Any]) -> None:
    resources = central["Resources"]
    rule = resources["RetryScheduleRule"]["Properties"]
    (target,) = rule["Targets"]
    assert rule["State"] == "ENABLED"
    assert target["Arn"] == {"Fn::GetAtt": ["RotatorFunction", "Arn"]}
    assert json.loads(target["Input"]) == {"ikr": RETRY_EVENT}
    permission = resources["RetrySchedulePermission"]["Properties"]
    assert permission["FunctionName"] == {"Ref": "RotatorFunction"}
    assert permission["Principal"] == "events.amazonaws.com"
    assert permission["SourceArn"] == {"Fn::GetAtt": ["RetryScheduleRule", "Arn"]}


def test_the_table_has_the_index_the_code_queries(central: dict[str, Any]) -> None:
    table = central["Resources"]["ExpiryTable"]["Properties"]
    (index,) = table["GlobalSecondaryIndexes"]
    assert index == {
        "IndexName": INDEX["IndexName"],
        "KeySchema": INDEX["KeySchema"],
        "Projection": INDEX["Projection"],
    }
    for attribute in INDEX_ATTRIBUTES:
        assert attribute in table["AttributeDefinitions"]


def test_the_rotator_role_may_query_only_that_index(central: dict[str, Any]) -> None:
    statements = central["Resources"]["RotatorRole"]["Properties"]["Policies"]
    found = [
        statement
        for policy in statements
        for statement in policy["PolicyDocument"]["Statement"]
        if statement.get("Sid") == "ExpiryTableDueRetries"
    ]
    assert found == [
        {
            "Sid": "ExpiryTableDueRetries",
            "Effect": "Allow",
            "Action": "dynamodb:Query",
            "Resource": {"Fn::Sub": "${ExpiryTable.Arn}/index/" + INDEX["IndexName"]},
        }
    ]
