"""Issue 18.2's templates: the member accounts' forwarding rule, its StackSet, and the central rule agree
with each other and with AWS Health's event (tests/data/health_credentials_exposed.json)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from central.deploy import template

FORWARD = template.REPO_ROOT / "member-role" / "exposure-forward.yaml"
STACKSET = template.REPO_ROOT / "stacksets" / "exposure-stackset.yaml"
SAMPLE = Path(__file__).parents[1] / "data" / "health_credentials_exposed.json"


def _matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """EventBridge's matching for the pattern's plain form (lists of exact values, nested maps)."""
    for name, wanted in pattern.items():
        value = event.get(name)
        if isinstance(wanted, dict):
            if not isinstance(value, dict) or not _matches(wanted, value):
                return False
        elif value not in wanted:
            return False
    return True


def test_cfn_lint_is_clean() -> None:
    done = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), str(FORWARD), str(STACKSET)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_both_rules_take_the_sample_event_and_only_it() -> None:
    central = template.load(template.CENTRAL_TEMPLATE)["Resources"]["ExposureRule"]["Properties"]
    member = template.load(FORWARD)["Resources"]["ForwardRule"]["Properties"]
    assert central["EventPattern"] == member["EventPattern"]
    event = json.loads(SAMPLE.read_text())
    assert _matches(central["EventPattern"], event)
    other = {**event, "detail": {**event["detail"], "eventTypeCode": "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED"}}
    assert not _matches(central["EventPattern"], other)
    assert central["Targets"][0]["Arn"] == {"Fn::GetAtt": ["RotatorFunction", "Arn"]}


def test_the_forwarder_may_only_put_on_the_central_bus() -> None:
    role = template.load(FORWARD)["Resources"]["ForwardRole"]["Properties"]
    (statement,) = role["Policies"][0]["PolicyDocument"]["Statement"]
    assert (statement["Action"], statement["Resource"]) == ("events:PutEvents", {"Ref": "CentralEventBusArn"})
    trust = role["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}


def test_the_central_bus_takes_events_from_the_organization_only() -> None:
    policy = template.load(template.CENTRAL_TEMPLATE)["Resources"]["ExposureBusPolicy"]
    assert policy["Condition"] == "InOrganization"
    statement = policy["Properties"]["Statement"]
    assert statement["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": {"Ref": "OrganizationId"}}}


def test_the_stackset_deploys_the_forwarder_where_health_sends_global_events() -> None:
    stackset = template.load(STACKSET)
    properties = template.stackset_properties(stackset)
    assert stackset["Parameters"]["HealthRegions"]["Default"] == "us-east-1,us-west-2"
    assert properties["StackInstancesGroup"][0]["Regions"] == {"Ref": "HealthRegions"}
    forward_parameters = set(template.parameters(template.load(FORWARD)))
    assert {p["ParameterKey"] for p in properties["Parameters"]} == forward_parameters
