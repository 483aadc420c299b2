"""The three templates: linters clean, every setting a parameter, and what moto ignores checked on the template."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from central.deploy import template
from central.deploy.stackset import api_settings
from central.settings import Settings

TEMPLATES = [template.MEMBER_TEMPLATE, template.CENTRAL_TEMPLATE, template.STACKSET_TEMPLATE]
CHECKOV = template.REPO_ROOT / ".venv-checkov" / "bin" / "checkov"
# Settings fields that are not stack parameters, and why:
NOT_PARAMETERS = {
    "IKR_NOW": "tests and planning only; a deployed rotator runs on the real clock",
    "IKR_ALLOW_CLOCK_OVERRIDE": "tests only; refused inside a deployed Lambda anyway",
    "ACCESS_KEY_AGE": "the original README's misnomer, refused unless equal to ROTATE_AFTER_DAYS",
    "ACCOUNT_ID": "the original's Terraform sets it; accepted when copied over, never needed",
    "IKR_ACCOUNT_QUEUE_URL": "the stack's own account queue (AccountFanOut turns it off)",
    "IKR_REPORT_BUCKET": "the stack's own report bucket",
    "NOTIFY_WEBHOOK_URL": "a secret (its token): the stack takes NOTIFY_WEBHOOK_URL_PARAMETER, an SSM name",
}
NOT_ENVIRONMENT = {"IKR_NOW", "IKR_ALLOW_CLOCK_OVERRIDE", "ACCESS_KEY_AGE", "ACCOUNT_ID", "NOTIFY_WEBHOOK_URL"}
FUNCTIONS = ["RotatorFunction", "AccountWorkerFunction", "DestructorFunction", "ReporterFunction"]


def camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


@pytest.fixture(scope="module")
def central() -> dict[str, Any]:
    return template.load(template.CENTRAL_TEMPLATE)


@pytest.fixture(scope="module")
def member() -> dict[str, Any]:
    return template.load(template.MEMBER_TEMPLATE)


def test_cfn_lint_is_clean() -> None:
    done = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), *map(str, TEMPLATES)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_checkov_is_clean() -> None:
    if not CHECKOV.exists():
        pytest.skip("checkov lives in .venv-checkov (`make templates` makes it; `make test` runs it first)")
    args = [str(CHECKOV), "--framework", "cloudformation", "--skip-download", "--quiet", "--compact"]
    done = subprocess.run(
        [*args, *(arg for path in TEMPLATES for arg in ("-f", str(path)))],
        capture_output=True,
        text=True,
        check=False,
        env={"BC_SKIP_MAPPING": "TRUE", "PATH": "/usr/bin:/bin", "HOME": str(Path.home())},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Failed checks: 0" in done.stdout


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_every_checkov_skip_is_justified_next_to_its_resource(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        found = re.search(r"checkov:skip=(CKV_\w+):(.*)", line)
        if not found:
            continue
        assert len(found.group(2).strip()) >= 30, f"{path.name}:{number + 1}: say why {found.group(1)} is skipped"
        above = next(previous for previous in reversed(lines[:number]) if not previous.strip().startswith("#"))
        assert re.match(r"^\s{4}(Type|DeletionPolicy|UpdateReplacePolicy|Condition):", above) or re.match(
            r"^\s{2}\w+:$", above
        ), f"{path.name}:{number + 1}: a skip belongs inside the resource it is about"


def test_every_setting_is_a_stack_parameter(central: dict[str, Any]) -> None:
    parameters = template.parameters(central)
    missing = [name for name in Settings.model_fields if name not in NOT_PARAMETERS and camel(name) not in parameters]
    assert not missing, f"settings without a parameter in stacksets/central.yaml: {missing}"


def test_every_function_gets_every_setting_in_one_identical_environment(central: dict[str, Any]) -> None:
    resources = central["Resources"]
    environments = [resources[name]["Properties"]["Environment"]["Variables"] for name in FUNCTIONS]
    assert all(environment == environments[0] for environment in environments), "the four blocks differ"
    wanted = set(Settings.model_fields) - NOT_ENVIRONMENT
    assert sorted(wanted - set(environments[0])) == []
    for name, value in environments[0].items():
        if camel(name) in template.parameters(central):
            refs = re.findall(r"'Ref': '(\w+)'", str(value))
            assert camel(name) in refs or name == "IAM_KEY_ROTATOR_TABLE", f"{name} is not its parameter: {value}"


def test_functions_share_one_runtime_and_architecture(central: dict[str, Any]) -> None:
    assert template.lambda_platform(central) == ("python3.12", "arm64")
    handlers = {central["Resources"][name]["Properties"]["Handler"] for name in FUNCTIONS}
    assert handlers == {
        "handlers.rotator.handler",
        "handlers.account_worker.handler",
        "handlers.destructor.handler",
        "handlers.reporter.handler",
    }


def test_table_settings_moto_ignores(central: dict[str, Any]) -> None:
    table = central["Resources"]["ExpiryTable"]
    props = table["Properties"]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"] == {"SSEEnabled": True}
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"


def test_alarms_cover_every_function_and_dead_letter_queue(central: dict[str, Any]) -> None:
    alarms = template.resources_of_type(central, "AWS::CloudWatch::Alarm").values()
    watched = {str(alarm["Properties"]["Dimensions"][0]["Value"]) for alarm in alarms}
    for name in FUNCTIONS:
        assert str({"Ref": name}) in watched
    for queue in ("DestructorDeadLetterQueue", "AccountDeadLetterQueue", "InvocationDeadLetterQueue"):
        assert str({"Fn::GetAtt": [queue, "QueueName"]}) in watched
    assert all(alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}] for alarm in alarms)
    subscription = central["Resources"]["AlarmTopicAdminSubscription"]
    assert subscription["Condition"] == "HasAdminEmail"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AdminEmail"}


def test_log_groups_have_retention_and_are_the_functions_own(central: dict[str, Any]) -> None:
    for name in FUNCTIONS:
        group = central["Resources"][name]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert central["Resources"][group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_rotator_runs_on_the_original_schedule_reserving_one_only_when_asked(central: dict[str, Any]) -> None:
    """No reservation by default (a new account's quota may be 10; AWS keeps 100 unreserved): two runs at
    once are safe through the users' leases (tests/integration/test_overlap_sweep.py)."""
    reserved = central["Resources"]["RotatorFunction"]["Properties"]["ReservedConcurrentExecutions"]
    assert reserved == {"Fn::If": ["ReservesConcurrency", 1, {"Ref": "AWS::NoValue"}]}
    assert template.parameters(central)["ReserveConcurrency"]["Default"] == "false"
    assert template.parameters(central)["RotationSchedule"]["Default"] == "cron(0 12 * * ? *)"


def test_the_account_worker_is_capped_by_its_queue_not_by_a_reservation(central: dict[str, Any]) -> None:
    mapping = central["Resources"]["AccountQueueMapping"]["Properties"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "AccountWorkerMaxConcurrency"}}
    assert template.parameters(central)["AccountWorkerMaxConcurrency"]["MinValue"] == 2  # Lambda's own minimum


def test_central_account_policy_is_the_member_roles(central: dict[str, Any], member: dict[str, Any]) -> None:
    as_member = central["Resources"]["CentralAccountAsMemberPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    member_role = member["Resources"]["MemberRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert as_member == member_role


def test_member_role_may_not_touch_tags_or_other_iam(member: dict[str, Any]) -> None:
    statements = member["Resources"]["MemberRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    actions = {
        action
        for statement in statements
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    }
    assert not {action for action in actions if action.startswith("iam:") and "Tag" in action}  # IKR:* tags
    (tagging,) = [s for s in statements if "secretsmanager:TagResource" in s["Action"]]
    assert tagging["Condition"] == {"ForAllValues:StringEquals": {"aws:TagKeys": ["IKR:MANAGED"]}}
    assert not {action for action in actions if "*" in action}
    writes = {s["Sid"]: s for s in statements}["RotateKeysOfTaggedUsersOnly"]
    assert writes["Condition"] == {"Null": {"aws:ResourceTag/IKR:EMAIL": "false"}}


def test_stackset_settings_agree_between_template_and_api_call() -> None:
    stackset = template.load(template.STACKSET_TEMPLATE)
    properties = template.stackset_properties(stackset)
    assert api_settings(properties) == {
        "PermissionModel": "SERVICE_MANAGED",
        "AutoDeployment": {"Enabled": True, "RetainStacksOnAccountRemoval": False},
        "Capabilities": ["CAPABILITY_NAMED_IAM"],
        "ManagedExecution": {"Active": True},
    }
    preferences = properties["OperationPreferences"]
    assert 0 < preferences["FailureTolerancePercentage"] < preferences["MaxConcurrentPercentage"] <= 100
    member_parameters = set(template.parameters(template.load(template.MEMBER_TEMPLATE)))
    assert {p["ParameterKey"] for p in properties["Parameters"]} == member_parameters


def test_member_template_fits_a_template_body() -> None:
    assert template.MEMBER_TEMPLATE.stat().st_size < 51_200  # CreateStackSet's TemplateBody limit


def test_every_number_parameter_has_the_bounds_of_its_setting(central: dict[str, Any]) -> None:
    """A stack cannot be deployed with a value the functions would refuse at start-up (rule 7's bounds)."""
    parameters = template.parameters(central)
    for name, field in Settings.model_fields.items():
        parameter = parameters.get(camel(name))
        if parameter is None or parameter.get("Type") != "Number":
            continue
        kinds = ("ge", "gt", "le", "lt")  # annotated_types' Ge, Gt, Le, Lt: one attribute each
        limits = {key: getattr(meta, key) for meta in field.metadata for key in kinds if hasattr(meta, key)}
        low = limits["ge"] if "ge" in limits else limits["gt"] + 1
        high = limits["le"] if "le" in limits else limits["lt"] - 1
        assert (parameter.get("MinValue"), parameter.get("MaxValue")) == (low, high), name
