"""Rule 9: the clock cannot be turned against real keys.

moto in process answers at AWS's own endpoints, so for these tests it *is* real AWS: with
IKR_ALLOW_CLOCK_OVERRIDE unset (the conftest sets it for every other test) and no emulator endpoint,
`--now` and IKR_NOW must be refused before any AWS call, by the `ikr` command lines and the Lambda
handlers alike. The emulator way out over HTTP is driven in tests/e2e/test_clock_rule.py.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from central.aws.expiry_table import ExpiryTable
from central.aws.stream_pump import LocalLambdaContext
from central.cli.main import main
from central.domain.errors import SettingsError
from handlers import account_worker, destructor, reporter, rotator
from tests.integration.conftest import TABLE, default_spec
from tests.integration.faults import Faults
from tests.integration.fixtures_extra import (
    LATER,
    shared_botocore_loader,  # noqa: F401 - autouse: shared service models (speed)
)
from tests.support.world import World, build_world

pytestmark = [
    pytest.mark.filterwarnings("ignore:No application metrics to publish"),
    pytest.mark.usefixtures("ikr_logging_restored"),
]
NOW = LATER.isoformat()  # 100 days on: alice and dave are due, their old keys would go 3 and 5 days later
WAYS_OUT = ("--dry-run", "AWS_ENDPOINT_URL", "IKR_ALLOW_CLOCK_OVERRIDE=1")


@pytest.fixture
def real_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The settings of a real deployment: no override (moto in process stands for AWS itself)."""
    monkeypatch.setenv("MAIL_FROM", "ikr@example.com")
    monkeypatch.setenv("IAM_KEY_ROTATOR_TABLE", TABLE)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    monkeypatch.delenv("IKR_ALLOW_CLOCK_OVERRIDE")


@pytest.fixture
def world(central: boto3.Session, real_settings: None) -> World:
    """An Organization, the table and SES ready."""
    built = build_world(central, default_spec())
    ExpiryTable(central.client("dynamodb"), TABLE).create()
    central.client("ses").verify_email_identity(EmailAddress="ikr@example.com")
    return built


def all_keys(world: World) -> dict[tuple[str, str], list[str]]:
    keys = {}
    for spec in default_spec().accounts:
        iam = world.session(world.account_ids[spec.name]).client("iam")
        for user in spec.users:
            metadata = iam.list_access_keys(UserName=user.name)["AccessKeyMetadata"]
            keys[spec.name, user.name] = sorted(key["AccessKeyId"] for key in metadata)
    return keys


def mails_sent(central: boto3.Session) -> int:
    points = central.client("ses").get_send_statistics()["SendDataPoints"]
    return sum(point["DeliveryAttempts"] for point in points)


def assert_refused(code: int, stderr: str, source: str) -> None:
    assert code == 2, stderr
    assert stderr.startswith(f"ikr: {source} is refused: this run would change keys on real AWS"), stderr
    assert "IAM, DynamoDB, SSM, Secrets Manager go to AWS itself" in stderr
    for way in WAYS_OUT:
        assert way in stderr
    assert "Traceback" not in stderr


# -- ikr rotate ----------------------------------------------------------------------------------------
def test_rotate_with_a_turned_clock_against_real_aws_exits_2_before_any_aws_call(
    world: World, central: boto3.Session, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    before = all_keys(world)
    faults = Faults(monkeypatch)

    code = main(["rotate", "--now", NOW])

    assert_refused(code, capsys.readouterr().err, "--now")
    assert faults.calls == []  # not even a read: refused while wiring, before the first client call
    assert all_keys(world) == before
    assert mails_sent(central) == 0


# The refusals below make no AWS call at all, which `faults.calls == []` proves: no Organization needed.


@pytest.mark.usefixtures("real_settings")
def test_ikr_now_from_the_environment_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setenv("IKR_NOW", NOW)
    faults = Faults(monkeypatch)

    code = main(["rotate"])

    assert_refused(code, capsys.readouterr().err, "IKR_NOW")
    assert faults.calls == []


def test_rotate_dry_run_with_a_turned_clock_decides_and_changes_nothing(
    world: World, central: boto3.Session, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    before = all_keys(world)
    faults = Faults(monkeypatch)

    code = main(["rotate", "--now", NOW, "--dry-run"])

    out = capsys.readouterr().out
    assert code == 1, out  # carol's bad tag, as in a real run
    assert "2 would-rotate" in out  # alice and dave, 100 days on
    assert faults.calls  # it did run: it read the Organization and the accounts
    assert faults.mutating() == []
    assert all_keys(world) == before
    assert mails_sent(central) == 0


def test_rotate_with_the_override_set_on_purpose_turns_the_clock(
    world: World, central: boto3.Session, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("IKR_ALLOW_CLOCK_OVERRIDE", "1")
    before = all_keys(world)

    code = main(["rotate", "--now", NOW])

    assert code == 1  # carol's bad tag
    after = all_keys(world)
    assert len(after["prod", "alice"]) == 2
    assert before["prod", "alice"][0] in after["prod", "alice"]
    assert len(after["dev", "dave"]) == 2
    assert mails_sent(central) == 2


@pytest.mark.usefixtures("real_settings")
def test_a_junk_override_value_is_a_settings_error_before_any_aws_call(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setenv("IKR_ALLOW_CLOCK_OVERRIDE", "yes")
    faults = Faults(monkeypatch)

    code = main(["rotate", "--now", NOW])

    assert code == 2
    assert "IKR_ALLOW_CLOCK_OVERRIDE: Value error, must be 1 or true" in capsys.readouterr().err
    assert faults.calls == []


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        pytest.param({"AWS_ENDPOINT_URL": "https://iam.amazonaws.com"}, "IAM, DynamoDB", id="aws-own-host"),
        pytest.param(
            {"AWS_ENDPOINT_URL_IAM": "http://127.0.0.1:9"}, "(DynamoDB, SSM, Secrets Manager go", id="iam-alone"
        ),
        pytest.param(
            {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"},
            "IAM, DynamoDB",
            id="endpoints-ignored",
        ),
    ],
)
@pytest.mark.usefixtures("real_settings")
def test_an_endpoint_that_leaves_keys_on_real_aws_is_no_way_out(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    environ: dict[str, str],
    named: str,
):
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    faults = Faults(monkeypatch)

    code = main(["rotate", "--now", NOW])

    err = capsys.readouterr().err
    assert code == 2, err
    assert named in err
    assert faults.calls == []


# -- the read-only commands: they change nothing, so --now is what they are for -----------------------
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(["plan"], "2 would-rotate", id="plan"),
        pytest.param(["report"], "alice", id="report"),
        pytest.param(["explain", "--account", "{prod}", "--user", "alice"], "rotate", id="explain"),
    ],
)
def test_read_only_commands_take_a_turned_clock_and_change_nothing(
    world: World,
    central: boto3.Session,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    expected: str,
):
    before = all_keys(world)
    faults = Faults(monkeypatch)

    code = main([*(arg.format(**world.account_ids) for arg in args), "--now", NOW])

    captured = capsys.readouterr()
    assert code in (0, 1), captured.err  # 1: carol's bad tag counts as a failure in plan and report
    assert "is refused" not in captured.err
    assert expected in captured.out
    assert faults.mutating() == []
    assert all_keys(world) == before
    assert mails_sent(central) == 0


# -- ikr stream-pump: the destructor deletes keys -----------------------------------------------------
@pytest.fixture
def pump_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pump hands --now to the destructor through os.environ: have monkeypatch undo it afterwards."""
    monkeypatch.setenv("IKR_NOW", NOW)
    monkeypatch.delenv("IKR_NOW")


@pytest.mark.usefixtures("real_settings", "pump_env")
def test_stream_pump_with_a_turned_clock_against_real_aws_exits_2_before_reading_the_stream(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
):
    faults = Faults(monkeypatch)

    code = main(["stream-pump", "--now", NOW, "--checkpoint", str(tmp_path / "checkpoint.json")])

    assert_refused(code, capsys.readouterr().err, "--now")
    assert faults.calls == []
    assert not (tmp_path / "checkpoint.json").exists()


@pytest.mark.usefixtures("pump_env")
def test_stream_pump_with_the_override_deletes_old_keys_on_the_turned_clock(
    world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    monkeypatch.setenv("IKR_ALLOW_CLOCK_OVERRIDE", "1")
    (old_key,) = all_keys(world)["prod", "alice"]
    assert main(["rotate", "--now", NOW]) == 1  # alice and dave rotated; carol's bad tag
    six_days_on = (LATER + timedelta(days=6)).isoformat()
    assert main(["rotate", "--now", six_days_on]) == 1  # the sweep removes the items past their time

    code = main(["stream-pump", "--now", six_days_on, "--checkpoint", str(tmp_path / "checkpoint.json")])

    assert code == 0
    assert old_key not in all_keys(world)["prod", "alice"]


# -- the Lambda handlers ------------------------------------------------------------------------------
SCHEDULE = {"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}
HANDLERS = {
    "rotator": (rotator.handler, SCHEDULE),
    "account-worker": (account_worker.handler, {"Records": []}),
    "destructor": (destructor.handler, {"Records": []}),
    "reporter": (reporter.handler, SCHEDULE),
}


@pytest.fixture
def deployed_settings(real_settings: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A deployed function's settings, no Organization needed: nothing may be called at all."""
    monkeypatch.setenv("IKR_REPORT_BUCKET", "ikr-reports-test")
    monkeypatch.setenv("IKR_NOW", NOW)


def refused_in_lambda(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    handler, event = HANDLERS[name]
    faults = Faults(monkeypatch)

    with pytest.raises(SettingsError, match=r"^IKR_NOW is refused inside a deployed Lambda \(AWS_"):
        handler(event, LocalLambdaContext(function_name=f"ikr-{name}"))

    assert faults.calls == []  # the invocation fails loudly with nothing touched


@pytest.mark.usefixtures("deployed_settings")
@pytest.mark.parametrize("name", sorted(HANDLERS))
def test_ikr_now_inside_a_deployed_lambda_fails_every_handler_before_any_aws_call(
    monkeypatch: pytest.MonkeyPatch, name: str
):
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", f"ikr-{name}")

    refused_in_lambda(monkeypatch, name)


@pytest.mark.usefixtures("deployed_settings")
@pytest.mark.parametrize(
    "environ",
    [
        pytest.param({"AWS_LAMBDA_FUNCTION_NAME": "ikr-destructor", "IKR_ALLOW_CLOCK_OVERRIDE": "1"}, id="override"),
        pytest.param(
            {"AWS_LAMBDA_FUNCTION_NAME": "ikr-destructor", "AWS_ENDPOINT_URL": "http://127.0.0.1:9"},
            id="emulator-endpoint",
        ),
        pytest.param({"AWS_EXECUTION_ENV": "AWS_Lambda_python3.11"}, id="execution-env-only"),
    ],
)
def test_nothing_unlocks_ikr_now_inside_a_deployed_lambda(monkeypatch: pytest.MonkeyPatch, environ: dict[str, str]):
    for variable, value in environ.items():
        monkeypatch.setenv(variable, value)

    refused_in_lambda(monkeypatch, "destructor")


def test_a_deployed_lambda_on_the_real_clock_runs_as_before(world: World, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "ikr-rotator")
    before = all_keys(world)

    result: dict[str, Any] = rotator.handler(SCHEDULE, LocalLambdaContext(function_name="ikr-rotator"))

    outcomes = {user["outcome"] for account in result["accounts"] for user in account["users"]}
    assert "rotated" not in outcomes  # keys made today are not due on the real clock
    assert "not-due" in outcomes
    assert all_keys(world) == before


@pytest.mark.usefixtures("real_settings")
def test_a_handler_run_outside_lambda_refuses_ikr_now_against_real_aws(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("IKR_NOW", NOW)
    faults = Faults(monkeypatch)

    with pytest.raises(SettingsError, match=r"^IKR_NOW is refused: this run would change keys on real AWS"):
        destructor.handler({"Records": []}, LocalLambdaContext(function_name="ikr-destructor"))

    assert faults.calls == []


def test_the_reporter_outside_lambda_takes_ikr_now_it_changes_no_key(
    world: World, central: boto3.Session, monkeypatch: pytest.MonkeyPatch
):
    central.client("s3").create_bucket(Bucket="ikr-reports-test")
    monkeypatch.setenv("IKR_REPORT_BUCKET", "ikr-reports-test")
    monkeypatch.setenv("IKR_NOW", NOW)
    before = all_keys(world)

    result = reporter.handler(SCHEDULE, LocalLambdaContext(function_name="ikr-reporter"))

    assert result["summary"]["due_now"] == 2  # alice and dave, on the turned clock
    assert all_keys(world) == before
