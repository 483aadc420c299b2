"""CI delivery end to end: `ikr rotate` (a subprocess, over HTTP to the moto server) writes new keys into
the GitHub and GitLab stand-ins with the tokens it reads from the central account's Secrets Manager;
an uncertain write is repeated with the same key by the next run; the old key waits until the key
read from the CI system is used. And the same through the account worker Lambda handler (fan-out)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from central.aws.stream_pump import LocalLambdaContext
from handlers import account_worker, rotator
from tests.e2e.conftest import DAY_100, E2E, TODAY
from tests.support.ci_standins import GITHUB_TOKEN, GITLAB_TOKEN, Fault, GitHubStandIn, GitLabStandIn, Unreachable
from tests.support.servers import MAIL_FROM, TABLE
from tests.support.world import UserSpec, add_users, caller_arn

pytestmark = pytest.mark.e2e
OWNER = "platform@example.com"
REPO = "octo/deploy"
PROJECT_ID, PROJECT = 77, "platform/nightly"


def _at(days: int) -> str:
    return (TODAY + timedelta(days=days)).isoformat(timespec="seconds")


@pytest.fixture
def github() -> Iterator[GitHubStandIn]:
    with GitHubStandIn({REPO}, {f"{REPO}/prod"}) as server:
        yield server


@pytest.fixture
def gitlab() -> Iterator[GitLabStandIn]:
    with GitLabStandIn({PROJECT_ID: PROJECT}) as server:
        yield server


def _tokens(central: boto3.Session) -> dict[str, str]:
    secrets = central.client("secretsmanager")
    secrets.create_secret(Name="ikr/github-token", SecretString=GITHUB_TOKEN)
    secrets.create_secret(Name="ikr/gitlab-token", SecretString=GITLAB_TOKEN)
    return {"GITHUB_TOKEN_SECRET_NAME": "ikr/github-token", "GITLAB_TOKEN_SECRET_NAME": "ikr/gitlab-token"}


def test_ikr_rotate_delivers_to_github_and_gitlab_and_refuses_what_it_cannot(
    e2e: E2E, central: boto3.Session, github: GitHubStandIn, gitlab: GitLabStandIn
):
    add_users(
        e2e.world.session(e2e.account("dev")),
        [
            UserSpec("shipper", {"IKR:EMAIL": OWNER, "IKR:DELIVERY": f"github:{REPO}/prod"}),
            UserSpec("nightly", {"IKR:EMAIL": OWNER, "IKR:DELIVERY": f"gitlab:{PROJECT}"}),
            UserSpec("lost", {"IKR:EMAIL": OWNER, "IKR:DELIVERY": "github:octo/no-such-repo"}),
            UserSpec("typo", {"IKR:EMAIL": OWNER, "IKR:DELIVERY": "github:octo"}),
        ],
    )
    env = {**_tokens(central), "GITHUB_API_URL": github.url, "GITLAB_API_URL": gitlab.url}
    e2e.create_table()
    dev = e2e.account("dev")
    lost_before = e2e.keys("dev", "lost")

    run = e2e.ikr("rotate", "--now", _at(100), **env)

    assert run.code == 1, run.stdout + run.stderr  # carol's tag, lost's repository, typo's target
    shipper = {"AccessKeyId": github.value(f"{REPO}/prod", "AWS_ACCESS_KEY_ID")}
    shipper["SecretAccessKey"] = github.value(f"{REPO}/prod", "AWS_SECRET_ACCESS_KEY")
    assert caller_arn(shipper) == f"arn:aws:iam::{dev}:user/shipper"
    nightly = {
        "AccessKeyId": gitlab.value(PROJECT_ID, "AWS_ACCESS_KEY_ID")["value"],
        "SecretAccessKey": gitlab.value(PROJECT_ID, "AWS_SECRET_ACCESS_KEY")["value"],
    }
    assert gitlab.value(PROJECT_ID, "AWS_SECRET_ACCESS_KEY")["masked"] is True
    assert caller_arn(nightly) == f"arn:aws:iam::{dev}:user/nightly"
    assert "not found (404): repository octo/no-such-repo does not exist" in run.line_for(" lost ")
    assert e2e.keys("dev", "lost") == lost_before  # refused: new key removed, old kept
    assert "the repository is missing" in run.line_for(" typo ")
    for value in (GITHUB_TOKEN, GITLAB_TOKEN, shipper["SecretAccessKey"], nightly["SecretAccessKey"]):
        assert value not in run.stdout + run.stderr

    # The deletion time comes: shipper's pipeline used the key GitHub holds (caller_arn above), and so
    # did nightly's: both old keys go.
    checkpoint = str(e2e.cwd / "checkpoint.json")
    assert e2e.ikr("rotate", "--now", _at(110), **env).code == 1
    assert e2e.ikr("stream-pump", "--now", _at(110), "--checkpoint", checkpoint, **env).code == 0
    assert e2e.keys("dev", "shipper") == [shipper["AccessKeyId"]]
    assert e2e.keys("dev", "nightly") == [nightly["AccessKeyId"]]


def test_an_uncertain_write_is_repeated_with_the_same_key_and_the_unused_key_holds_the_old_one(
    e2e: E2E, central: boto3.Session, github: GitHubStandIn
):
    add_users(
        e2e.world.session(e2e.account("dev")),
        [UserSpec("shipper", {"IKR:EMAIL": OWNER, "IKR:DELIVERY": f"github:{REPO}"})],
    )
    env = {**_tokens(central), "GITHUB_API_URL": github.url, "VERIFY_USE_GRACE_DAYS": "3"}
    e2e.create_table()
    github.faults["AWS_SECRET_ACCESS_KEY"] = Fault(status=503, keep=True)

    first = e2e.ikr("rotate", "--now", _at(100), **env)

    assert "delivery uncertain" in first.line_for(" shipper ")
    old, new = e2e.keys("dev", "shipper")  # the new key is kept: GitHub may hold it

    github.faults.clear()
    second = e2e.ikr("rotate", "--now", _at(100), **env)  # the retry run's minutes later

    assert second.code == 1, second.stdout + second.stderr
    assert e2e.keys("dev", "shipper") == [old, new]  # no third key
    assert github.value(REPO, "AWS_ACCESS_KEY_ID") == new

    # Past the deletion time the key in GitHub is still unused: the old key stays.
    checkpoint = str(e2e.cwd / "checkpoint.json")
    assert e2e.ikr("rotate", "--now", _at(106), **env).code == 1
    assert e2e.ikr("stream-pump", "--now", _at(106), "--checkpoint", checkpoint, **env).code == 0
    assert e2e.keys("dev", "shipper") == [old, new]


def test_an_unreachable_api_is_a_refusal_naming_it(e2e: E2E, central: boto3.Session):
    add_users(
        e2e.world.session(e2e.account("dev")),
        [UserSpec("nightly", {"IKR:EMAIL": OWNER, "IKR:DELIVERY": f"gitlab:{PROJECT_ID}"})],
    )
    e2e.create_table()
    before = e2e.keys("dev", "nightly")

    run = e2e.ikr("rotate", "--now", _at(100), **_tokens(central), GITLAB_API_URL=Unreachable().url + "/api/v4")

    assert "GitLab could not be reached at http://127.0.0.1:" in run.line_for(" nightly ")
    assert e2e.keys("dev", "nightly") == before


def _sqs_event(sqs: Any, url: str) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    for _ in range(10):
        messages += sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    records = [
        {
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": {},
            "messageAttributes": {},
            "md5OfBody": m["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": arn,
            "awsRegion": "us-east-1",
        }
        for m in messages
    ]
    return {"Records": records}


def test_the_account_worker_lambda_delivers_to_github(
    e2e: E2E, central: boto3.Session, github: GitHubStandIn, monkeypatch: pytest.MonkeyPatch
):
    add_users(
        e2e.world.session(e2e.account("dev")),
        [UserSpec("shipper", {"IKR:EMAIL": OWNER, "IKR:DELIVERY": f"github:{REPO}"})],
    )
    e2e.create_table()
    central.client("ses").verify_email_identity(EmailAddress=MAIL_FROM)
    sqs = central.client("sqs")
    url = sqs.create_queue(QueueName="ikr-accounts", Attributes={"VisibilityTimeout": "300"})["QueueUrl"]
    for name, value in {
        **_tokens(central),
        "GITHUB_API_URL": github.url,
        "MAIL_FROM": MAIL_FROM,
        "IAM_KEY_ROTATOR_TABLE": TABLE,
        "IKR_NOW": DAY_100,
        "IKR_ACCOUNT_QUEUE_URL": url,
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("MAIL_CLIENT", "SMTP_SERVER"):
        monkeypatch.delenv(name, raising=False)

    rotator.handler({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}, LocalLambdaContext())
    response = account_worker.handler(_sqs_event(sqs, url), LocalLambdaContext(function_name="ikr-account-worker"))

    assert response == {"batchItemFailures": []}
    pair = {"AccessKeyId": github.value(REPO, "AWS_ACCESS_KEY_ID")}
    pair["SecretAccessKey"] = github.value(REPO, "AWS_SECRET_ACCESS_KEY")
    assert caller_arn(pair) == f"arn:aws:iam::{e2e.account('dev')}:user/shipper"
    (item,) = [i for i in e2e.items() if i.get("user_name") == "shipper"]
    assert item["delivery"] == f"github:{REPO}"
    assert item["verify_use"] is True
    assert json.dumps(item, default=str).count(pair["SecretAccessKey"]) == 0


def test_ikr_rotate_with_a_github_app(e2e: E2E, central: boto3.Session, github: GitHubStandIn):
    app_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    github.app = ("12345", app_key.public_key())
    pem = app_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    central.client("secretsmanager").create_secret(Name="ikr/github-app-key", SecretString=pem)
    add_users(
        e2e.world.session(e2e.account("dev")),
        [UserSpec("shipper", {"IKR:EMAIL": OWNER, "IKR:DELIVERY": f"github:{REPO}"})],
    )
    e2e.create_table()
    env = {
        "GITHUB_API_URL": github.url,
        "GITHUB_APP_ID": "12345",
        "GITHUB_APP_PRIVATE_KEY_SECRET_NAME": "ikr/github-app-key",
    }

    run = e2e.ikr("rotate", "--now", _at(100), **env)

    assert "written to GitHub Actions secrets" in run.line_for(" shipper ")
    pair = {"AccessKeyId": github.value(REPO, "AWS_ACCESS_KEY_ID")}
    pair["SecretAccessKey"] = github.value(REPO, "AWS_SECRET_ACCESS_KEY")
    assert caller_arn(pair) == f"arn:aws:iam::{e2e.account('dev')}:user/shipper"
    assert len(github.installation_tokens) == 1
    assert github.installation_tokens[0] not in run.stdout + run.stderr
    assert "PRIVATE KEY" not in run.stdout + run.stderr
