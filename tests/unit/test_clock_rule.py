"""Rule 9, the pure part: when a turned clock (`--now`, IKR_NOW) may act, which endpoints are AWS's own,
and the IKR_ALLOW_CLOCK_OVERRIDE setting. The entry points are driven in tests/integration/test_clock_rule.py."""

from __future__ import annotations

import os
from collections.abc import Sequence

import boto3
import pytest

from central.aws import clients as aws
from central.clock import KEY_SERVICES, clock_override_refusal, lambda_function
from central.domain.errors import SettingsError
from central.settings import Settings, load_settings

ALL_REAL = list(KEY_SERVICES)


def refusal(
    *,
    changes_keys: bool = True,
    allowed: bool = False,
    environ: dict[str, str] | None = None,
    real: Sequence[str] = ALL_REAL,
    source: str = "--now",
) -> str | None:
    return clock_override_refusal(
        source, changes_keys=changes_keys, allowed=allowed, environ=environ or {}, real_services=lambda: real
    )


def test_against_real_aws_a_turned_clock_that_changes_keys_is_refused_with_the_three_ways_out():
    reason = refusal()

    assert reason is not None
    assert reason.startswith("--now is refused")
    assert "IAM, DynamoDB, SSM, Secrets Manager go to AWS itself" in reason
    for way in ("--dry-run", "AWS_ENDPOINT_URL", "IKR_ALLOW_CLOCK_OVERRIDE=1"):
        assert way in reason
    assert "nothing was done" in reason


def test_the_message_names_the_variable_the_clock_came_from_and_only_the_real_services():
    reason = refusal(source="IKR_NOW", real=["dynamodb"])

    assert reason is not None
    assert reason.startswith("IKR_NOW is refused")
    assert "(DynamoDB goes to AWS itself" in reason


@pytest.mark.parametrize(
    "case",
    [
        pytest.param({"changes_keys": False}, id="dry-run-or-read-only"),
        pytest.param({"allowed": True}, id="override"),
        pytest.param({"real": []}, id="every-key-service-on-an-emulator"),
    ],
)
def test_each_way_out_lets_the_clock_turn(case: dict[str, object]):
    assert refusal(**case) is None


@pytest.mark.parametrize(
    "environ",
    [
        {"AWS_LAMBDA_FUNCTION_NAME": "ikr-destructor"},
        {"AWS_EXECUTION_ENV": "AWS_Lambda_python3.11"},
    ],
)
@pytest.mark.parametrize(
    "case",
    [
        pytest.param({}, id="plain"),
        pytest.param({"allowed": True}, id="even-with-override"),
        pytest.param({"real": []}, id="even-on-an-emulator"),
        pytest.param({"changes_keys": False}, id="even-read-only"),
    ],
)
def test_inside_a_deployed_lambda_nothing_unlocks_a_turned_clock(environ: dict[str, str], case: dict[str, object]):
    reason = refusal(source="IKR_NOW", environ=environ, **case)

    assert reason is not None
    assert reason.startswith("IKR_NOW is refused inside a deployed Lambda")
    assert next(iter(environ)) in reason
    assert "IKR_ALLOW_CLOCK_OVERRIDE does not apply there" in reason


def test_the_endpoints_are_not_even_asked_when_another_way_out_applies():
    def asked() -> Sequence[str]:
        raise AssertionError("endpoints resolved although the clock was allowed anyway")

    assert clock_override_refusal("--now", changes_keys=False, allowed=False, environ={}, real_services=asked) is None
    assert clock_override_refusal("--now", changes_keys=True, allowed=True, environ={}, real_services=asked) is None


def test_other_execution_environments_are_not_lambda():
    assert lambda_function({"AWS_EXECUTION_ENV": "AWS_ECS_FARGATE"}) is None
    assert lambda_function({"AWS_EXECUTION_ENV": "CloudShell"}) is None
    assert lambda_function({}) is None


# -- endpoints, as botocore resolves them -------------------------------------------------------------
@pytest.fixture
def no_endpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_ENDPOINT_URL") or name in ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_PROFILE"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)  # a developer's own endpoint_url must not count
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)


def real_services() -> list[str]:
    return aws.real_aws_services(boto3.Session(region_name="us-east-1"), KEY_SERVICES)


@pytest.mark.usefixtures("no_endpoints")
@pytest.mark.parametrize(
    ("environ", "real"),
    [
        pytest.param({}, ALL_REAL, id="none-configured"),
        pytest.param({"AWS_ENDPOINT_URL": "http://127.0.0.1:5000"}, [], id="moto-server"),
        pytest.param({"AWS_ENDPOINT_URL": "http://localstack:4566"}, [], id="localstack-host"),
        pytest.param(
            {"AWS_ENDPOINT_URL_IAM": "http://127.0.0.1:5000"}, ["dynamodb", "ssm", "secretsmanager"], id="iam-only"
        ),
        pytest.param(
            {
                "AWS_ENDPOINT_URL_IAM": "http://127.0.0.1:5000",
                "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:5000",
                "AWS_ENDPOINT_URL_SSM": "http://127.0.0.1:5000",
                "AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://127.0.0.1:5000",
            },
            [],
            id="each-service-its-own-variable",
        ),
        pytest.param({"AWS_ENDPOINT_URL": "https://iam.amazonaws.com"}, ALL_REAL, id="aws-own-host"),
        pytest.param(
            {
                "AWS_ENDPOINT_URL": "http://127.0.0.1:5000",
                "AWS_ENDPOINT_URL_DYNAMODB": "https://dynamodb-fips.us-east-1.amazonaws.com",
            },
            ["dynamodb"],
            id="fips-endpoint-wins-for-its-service",
        ),
        pytest.param(
            {"AWS_ENDPOINT_URL": "https://vpce-0a1b.iam.us-east-1.vpce.amazonaws.com"}, ALL_REAL, id="vpc-endpoint"
        ),
        pytest.param({"AWS_ENDPOINT_URL": "https://iam.cn-north-1.amazonaws.com.cn"}, ALL_REAL, id="china"),
        pytest.param(
            {"AWS_ENDPOINT_URL": "http://127.0.0.1:5000", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"},
            ALL_REAL,
            id="endpoints-ignored-by-botocore",
        ),
    ],
)
def test_which_key_services_reach_aws_itself(monkeypatch: pytest.MonkeyPatch, environ: dict[str, str], real):
    for name, value in environ.items():
        monkeypatch.setenv(name, value)

    assert real_services() == real


@pytest.mark.usefixtures("no_endpoints")
def test_an_endpoint_in_the_config_file_counts_as_botocore_would_use_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: os.PathLike[str]
):
    config = os.path.join(tmp_path, "config")
    with open(config, "w", encoding="utf-8") as out:
        out.write("[default]\nendpoint_url = http://127.0.0.1:4566\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", config)

    assert real_services() == []


# -- the setting -------------------------------------------------------------------------------------
@pytest.fixture
def clean_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MAIL_FROM", "ikr@example.com")


@pytest.mark.usefixtures("clean_settings")
@pytest.mark.parametrize(
    ("value", "expected"), [("1", True), ("true", True), ("TRUE", True), ("0", False), ("false", False), ("", False)]
)
def test_the_override_takes_the_plain_spellings(monkeypatch: pytest.MonkeyPatch, value: str, expected: bool):
    monkeypatch.setenv("IKR_ALLOW_CLOCK_OVERRIDE", value)

    assert load_settings(Settings).IKR_ALLOW_CLOCK_OVERRIDE is expected


@pytest.mark.usefixtures("clean_settings")
def test_the_override_is_off_by_default():
    assert load_settings(Settings).IKR_ALLOW_CLOCK_OVERRIDE is False


@pytest.mark.usefixtures("clean_settings")
@pytest.mark.parametrize("value", ["yes", "2", "maybe", "on", "1 please"])
def test_any_other_override_value_is_a_settings_error_naming_the_variable(monkeypatch: pytest.MonkeyPatch, value):
    monkeypatch.setenv("IKR_ALLOW_CLOCK_OVERRIDE", value)

    with pytest.raises(SettingsError, match=r"IKR_ALLOW_CLOCK_OVERRIDE: Value error, must be 1 or true"):
        load_settings(Settings)
