"""StackDeployer's waiting, progress and failure report, against a scripted CloudFormation: moto executes
a change set synchronously and cannot fail a resource the way AWS does (it has no rollback)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from central.aws.cloudformation import CloudFormation
from central.deploy import display
from central.deploy.stack import DeployFailed, StackDeployer, stack_parameters

AT = datetime(2027, 3, 1, 12, 0, 5, tzinfo=UTC)


def event(
    number: int, logical: str, status: str, reason: str = "", kind: str = "AWS::Lambda::Function"
) -> dict[str, Any]:
    return {
        "EventId": f"e{number}",
        "LogicalResourceId": logical,
        "ResourceType": kind,
        "ResourceStatus": status,
        "ResourceStatusReason": reason,
        "Timestamp": AT,
    }


class ScriptedCloudFormation:
    """Answers as CloudFormation would for one update whose Lambda function fails."""

    def __init__(self, final: str, events: list[dict[str, Any]], outputs: list[dict[str, str]]) -> None:
        self.status = "UPDATE_COMPLETE"
        self.final, self.script, self.outputs = final, events, outputs
        self.events: list[dict[str, Any]] = [
            event(0, "ikr-central", "CREATE_COMPLETE", kind="AWS::CloudFormation::Stack")
        ]
        self.executed = False
        self.change_set_polls = 0

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        if self.executed and self.script:  # one more event per poll, then the final status
            self.events.insert(0, self.script.pop(0))
        elif self.executed:
            self.status = self.final
        return {"Stacks": [{"StackName": StackName, "StackStatus": self.status, "Outputs": self.outputs}]}

    def create_change_set(self, **kwargs: Any) -> dict[str, str]:
        assert kwargs["ChangeSetType"] == "UPDATE"
        return {"Id": "arn:cs"}

    def describe_change_set(self, ChangeSetName: str, **_: Any) -> dict[str, Any]:
        self.change_set_polls += 1
        if self.change_set_polls == 1:
            return {"Status": "CREATE_IN_PROGRESS"}
        change = {
            "ResourceChange": {
                "Action": "Modify",
                "LogicalResourceId": "RotatorFunction",
                "ResourceType": "AWS::Lambda::Function",
                "Replacement": "False",
            }
        }
        return {"Status": "CREATE_COMPLETE", "Changes": [change]}

    def execute_change_set(self, ChangeSetName: str) -> None:
        self.executed = True
        self.status = "UPDATE_IN_PROGRESS"

    def describe_stack_events(self, StackName: str) -> dict[str, Any]:
        return {"StackEvents": list(self.events)}


def run(cf: ScriptedCloudFormation) -> tuple[list[str], Any]:
    lines: list[str] = []
    deployer = StackDeployer(CloudFormation(cf), lines.append, sleep=lambda _: None)
    try:
        return lines, deployer.deploy("ikr-central", {"TemplateURL": "https://b.s3.amazonaws.com/t"}, [], [], False)
    except DeployFailed as exc:
        return lines, exc


def test_a_failed_update_names_the_failing_resource_and_reason() -> None:
    cf = ScriptedCloudFormation(
        "UPDATE_ROLLBACK_COMPLETE",
        [
            event(1, "RotatorFunction", "UPDATE_IN_PROGRESS"),
            event(
                2,
                "RotatorFunction",
                "UPDATE_FAILED",
                'Resource handler returned message: "Unzipped size must be smaller than 262144000 bytes"',
            ),
            event(3, "DestructorFunction", "UPDATE_FAILED", "Resource update cancelled"),
            event(4, "ikr-central", "UPDATE_ROLLBACK_IN_PROGRESS", kind="AWS::CloudFormation::Stack"),
        ],
        [],
    )
    lines, failure = run(cf)
    assert isinstance(failure, DeployFailed)
    assert "  ~ Modify  RotatorFunction (AWS::Lambda::Function)" in lines
    assert (
        "  12:00:05 UPDATE_FAILED                RotatorFunction (AWS::Lambda::Function): Resource handler"
        in "\n".join(lines)
    )
    message = str(failure)
    assert message.startswith("stack ikr-central ended UPDATE_ROLLBACK_COMPLETE; failing resources:")
    assert "RotatorFunction (AWS::Lambda::Function) UPDATE_FAILED: Resource handler returned message" in message
    assert "DestructorFunction" not in message  # cancelled because of the other: not a cause
    assert "ikr-central (AWS::CloudFormation::Stack) CREATE_COMPLETE" not in "\n".join(lines)  # old events stay quiet


def test_a_successful_update_prints_progress_then_outputs() -> None:
    cf = ScriptedCloudFormation(
        "UPDATE_COMPLETE",
        [event(1, "RotatorFunction", "UPDATE_IN_PROGRESS"), event(2, "RotatorFunction", "UPDATE_COMPLETE")],
        [
            {"OutputKey": "TableName", "OutputValue": "ikr-expiry"},
            {"OutputKey": "RotatorRoleArn", "OutputValue": "arn:r"},
        ],
    )
    lines, result = run(cf)
    assert result.action == "UPDATE"
    assert result.outputs == {"TableName": "ikr-expiry", "RotatorRoleArn": "arn:r"}
    progress = [line for line in lines if "RotatorFunction (AWS::Lambda::Function)" in line and "12:00:05" in line]
    assert [line.split()[1] for line in progress] == ["UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"]
    assert lines[-3:] == [
        "stack ikr-central: UPDATE_COMPLETE; outputs:",
        "  RotatorRoleArn  arn:r",
        "  TableName       ikr-expiry",
    ]


def test_upgrade_keeps_every_previous_parameter_not_given() -> None:
    template = {"MailFrom": {}, "RotateAfterDays": {"Default": 85}, "ArtifactKey": {}}
    chosen = stack_parameters(template, {"ArtifactKey": "new.zip"}, {"MailFrom": "a@b", "RotateAfterDays": "30"})
    assert chosen == [
        {"ParameterKey": "MailFrom", "UsePreviousValue": True},
        {"ParameterKey": "RotateAfterDays", "UsePreviousValue": True},
        {"ParameterKey": "ArtifactKey", "ParameterValue": "new.zip"},
    ]


def test_change_lines_flag_replacements() -> None:
    change = {
        "ResourceChange": {
            "Action": "Modify",
            "LogicalResourceId": "ExpiryTable",
            "ResourceType": "AWS::DynamoDB::Table",
            "Replacement": "True",
            "Scope": ["Properties"],
        }
    }
    assert display.change_lines([change]) == [
        "  ~ Modify  ExpiryTable (AWS::DynamoDB::Table)  REPLACEMENT true  [Properties]"
    ]


@pytest.mark.parametrize("status", ["CREATE_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"])
def test_in_progress_is_not_terminal(status: str) -> None:
    assert not display.is_terminal(status)
