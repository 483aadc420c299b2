"""github: and gitlab: delivery targets against local stand-ins of the two REST APIs: the pair lands
where the CI reads it (GitHub's copy opened with the private half of the key it published, so GitHub
could read it), and every failure ends as one of the three delivery outcomes, nothing lost:
refused (401/403/404/422, unreachable: new key removed, old kept), uncertain (5xx, lost answer,
time-out, half a pair: key kept, the same key written again by the next run)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import boto3
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from central.aws.expiry_item import State, from_epoch
from central.cistores import http
from central.cistores.stores import build_ci_stores
from central.clock import fixed_clock
from central.domain.results import Outcome
from central.notify.admin import AdminNotifier
from central.retirement.destroy import DestroyContext, Destroyed, destroy
from central.rotation.run import run_rotation
from tests.integration.conftest import Harness, RecordingMailer, make_harness
from tests.integration.fixtures_extra import (
    LATER,
    items,
    key_ids,
    mails_to,
    shared_botocore_loader,  # noqa: F401 - autouse: shared service models (speed)
    user_rows,
)
from tests.support.ci_standins import GITHUB_TOKEN, GITLAB_TOKEN, Fault, GitHubStandIn, GitLabStandIn, Unreachable
from tests.support.world import AccountSpec, OrgSpec, UserSpec, caller_arn

OWNER = "platform@example.com"
GITHUB_SECRET, GITLAB_SECRET = "ikr/github-token", "ikr/gitlab-token"
REPO, ENV = "octo/app", "octo/app/prod"
PROJECT_ID, PROJECT = 4242, "platform/deploy"


@pytest.fixture
def github() -> Iterator[GitHubStandIn]:
    with GitHubStandIn({REPO}, {ENV}) as server:
        yield server


@pytest.fixture
def gitlab() -> Iterator[GitLabStandIn]:
    with GitLabStandIn({PROJECT_ID: PROJECT}) as server:
        yield server


def _harness(
    central: boto3.Session,
    users: dict[str, dict[str, str]],
    github_url: str = "",
    gitlab_url: str = "",
    **settings: str,
) -> Harness:
    secrets = central.client("secretsmanager")
    secrets.create_secret(Name=GITHUB_SECRET, SecretString=GITHUB_TOKEN + "\n")
    secrets.create_secret(Name=GITLAB_SECRET, SecretString=GITLAB_TOKEN)
    values = {
        "GITHUB_TOKEN_SECRET_NAME": GITHUB_SECRET,
        "GITLAB_TOKEN_SECRET_NAME": GITLAB_SECRET,
        **({"GITHUB_API_URL": github_url} if github_url else {}),
        **({"GITLAB_API_URL": gitlab_url} if gitlab_url else {}),
        **settings,
    }
    specs = [UserSpec(name, {"IKR:EMAIL": OWNER, **tags}) for name, tags in users.items()]
    spec = OrgSpec(ous={"Work": {"IKR:ENABLED": "true"}}, accounts=[AccountSpec("prod", "Work", {}, specs)])
    harness = make_harness(central, spec, **{k: v for k, v in values.items() if v})
    harness.services.ci = build_ci_stores(harness.services.settings, central)  # as the wiring builds it
    harness.services.clock = fixed_clock(LATER)
    return harness


def _pair(server: GitHubStandIn, scope: str, names: tuple[str, str] = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")):
    return {"AccessKeyId": server.value(scope, names[0]), "SecretAccessKey": server.value(scope, names[1])}


def _one_row(harness: Harness, result, user: str):
    (found,) = user_rows(result, harness.world.account_ids["prod"], user)
    return found


def test_github_repository_and_environment_secrets_hold_a_pair_github_can_open_and_that_works(
    central: boto3.Session, github: GitHubStandIn
):
    harness = _harness(
        central,
        {
            "deployer": {"IKR:DELIVERY": f"github:{REPO}"},
            "releaser": {"IKR:DELIVERY": f"github:{ENV}", "IKR:SECRET_NAMES": "PROD_KEY_ID PROD_SECRET"},
        },
        github_url=github.url,
    )
    prod = harness.world.account_ids["prod"]

    result = run_rotation(harness.services)

    deployer, releaser = _one_row(harness, result, "deployer"), _one_row(harness, result, "releaser")
    assert deployer.outcome is Outcome.ROTATED, deployer.detail
    assert releaser.outcome is Outcome.ROTATED, releaser.detail
    pair = _pair(github, REPO)
    assert pair["AccessKeyId"] == deployer.new_key_id
    assert caller_arn(pair) == f"arn:aws:iam::{prod}:user/deployer"  # opened by GitHub's private half: it works
    env_pair = _pair(github, ENV, ("PROD_KEY_ID", "PROD_SECRET"))
    assert caller_arn(env_pair) == f"arn:aws:iam::{prod}:user/releaser"
    assert (
        "written to GitHub Actions secrets PROD_KEY_ID and PROD_SECRET of environment prod of repository octo/app"
        in (releaser.detail)
    )
    assert "once the new key is in use" in deployer.detail
    assert {(i.user_name, i.verify_use, i.delivery) for i in items(harness, "prod")} == {
        ("deployer", True, f"github:{REPO}"),
        ("releaser", True, f"github:{ENV}#PROD_KEY_ID,PROD_SECRET"),
    }
    # The owner hears where each pair went, never the secret; the token appears nowhere either.
    mails = mails_to(harness, OWNER)
    assert len(mails) == 2
    for text in [m.text + m.html for m in mails] + [deployer.detail, releaser.detail]:
        assert pair["SecretAccessKey"] not in text
        assert env_pair["SecretAccessKey"] not in text
        assert GITHUB_TOKEN not in text


def test_gitlab_variables_are_created_or_updated_masked_and_protected(central: boto3.Session, gitlab: GitLabStandIn):
    gitlab.variables[(PROJECT_ID, "AWS_ACCESS_KEY_ID")] = {
        "key": "AWS_ACCESS_KEY_ID",
        "value": "AKIAOLD",
        "masked": False,
        "protected": False,
        "environment_scope": "*",
    }
    harness = _harness(
        central,
        {
            "by-path": {"IKR:DELIVERY": f"gitlab:{PROJECT}"},
            "by-id": {"IKR:DELIVERY": f"gitlab:{PROJECT_ID}", "IKR:SECRET_NAMES": "NIGHTLY_ID/NIGHTLY_SECRET"},
        },
        gitlab_url=gitlab.url,
    )
    prod = harness.world.account_ids["prod"]

    result = run_rotation(harness.services)

    for user, names in (
        ("by-path", ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")),
        ("by-id", ("NIGHTLY_ID", "NIGHTLY_SECRET")),
    ):
        found = _one_row(harness, result, user)
        assert found.outcome is Outcome.ROTATED, found.detail
        variables = [gitlab.value(PROJECT_ID, name) for name in names]
        assert all(v["masked"] and v["protected"] and v["environment_scope"] == "*" for v in variables)
        pair = {"AccessKeyId": variables[0]["value"], "SecretAccessKey": variables[1]["value"]}
        assert pair["AccessKeyId"] == found.new_key_id
        assert caller_arn(pair) == f"arn:aws:iam::{prod}:user/{user}"
    # The existing variable was updated in place (PUT), the others created (POST after PUT's 404).
    assert ("POST", f"/api/v4/projects/{PROJECT.replace('/', '%2F')}/variables") in gitlab.requests
    assert not any(m == "POST" and p.endswith("/variables") and "AWS_ACCESS_KEY_ID" in p for m, p in gitlab.requests)


@pytest.mark.parametrize(
    ("kind", "change", "words"),
    [
        ("github", lambda s: setattr(s, "revoked", True), "GitHub refused the token (401): it is revoked, expired"),
        ("github", lambda s: s.repositories.clear(), "not found (404): repository octo/app does not exist"),
        ("github", lambda s: s.faults.update(AWS_ACCESS_KEY_ID=Fault(status=403)), "the token may not do this (403)"),
        ("github", lambda s: s.faults.update(AWS_ACCESS_KEY_ID=Fault(status=422)), "GitHub refused the request (422)"),
        ("gitlab", lambda s: setattr(s, "revoked", True), "GitLab refused the token (401)"),
        ("gitlab", lambda s: s.projects.clear(), "not found (404): project platform/deploy does not exist"),
        ("gitlab", lambda s: setattr(s, "mask_slash_and_plus", False), "GitLab refused to store AWS_ACCESS_KEY_ID"),
    ],
)
def test_a_refused_write_removes_the_new_key_and_keeps_the_old(
    central: boto3.Session, github: GitHubStandIn, gitlab: GitLabStandIn, kind: str, change, words: str
):
    server = github if kind == "github" else gitlab
    change(server)
    if kind == "gitlab" and not gitlab.mask_slash_and_plus:
        # An old GitLab refuses '+' and '/': make the key id carry one so the first write is refused.
        gitlab.mask_slash_and_plus = True
        gitlab.faults["AWS_ACCESS_KEY_ID"] = Fault(status=400)
    target = f"github:{REPO}" if kind == "github" else f"gitlab:{PROJECT}"
    harness = _harness(central, {"bot": {"IKR:DELIVERY": target}}, github_url=github.url, gitlab_url=gitlab.url)
    before = key_ids(harness, "prod", "bot")

    result = run_rotation(harness.services)

    found = _one_row(harness, result, "bot")
    assert found.outcome is Outcome.FAILED
    assert "delivery refused: cannot write the new key to" in found.detail
    assert words in found.detail
    assert "stand-in fault" not in found.detail
    assert "Bad credentials" not in found.detail
    assert key_ids(harness, "prod", "bot") == before  # new key removed, old kept
    assert items(harness, "prod") == []
    assert result.exit_code == 1
    assert _marked_for_retry(harness) == set()  # a person must act: not tried again within minutes


def test_an_unreachable_api_and_a_missing_token_are_refusals(central: boto3.Session):
    harness = _harness(
        central,
        {"hub": {"IKR:DELIVERY": f"github:{REPO}"}, "lab": {"IKR:DELIVERY": f"gitlab:{PROJECT}"}},
        github_url=Unreachable().url,
        GITLAB_TOKEN_SECRET_NAME="ikr/no-such-token",
    )
    before = {user: key_ids(harness, "prod", user) for user in ("hub", "lab")}

    result = run_rotation(harness.services)

    hub, lab = _one_row(harness, result, "hub"), _one_row(harness, result, "lab")
    assert "GitHub could not be reached at http://127.0.0.1:" in hub.detail
    assert "the token in GITLAB_TOKEN_SECRET_NAME could not be read" in lab.detail
    assert "ikr/no-such-token" in lab.detail
    assert {user: key_ids(harness, "prod", user) for user in ("hub", "lab")} == before
    # An API out of reach may be back within minutes: the account is marked for the retry run.
    assert _marked_for_retry(harness) == {harness.world.account_ids["prod"]}


def _marked_for_retry(harness: Harness) -> set[str]:
    return {mark.account_id for mark in harness.services.table.retries.due(2**31).marks}


def test_without_a_token_setting_a_ci_target_is_refused_naming_the_setting(central: boto3.Session):
    harness = _harness(central, {"hub": {"IKR:DELIVERY": f"github:{REPO}"}}, GITHUB_TOKEN_SECRET_NAME="")
    harness.services.ci = build_ci_stores(
        harness.services.settings.model_copy(update={"GITHUB_TOKEN_SECRET_NAME": None}), central
    )
    before = key_ids(harness, "prod", "hub")

    found = _one_row(harness, run_rotation(harness.services), "hub")

    assert "GITHUB_TOKEN_SECRET_NAME is not set: ikr has no token for it" in found.detail
    assert key_ids(harness, "prod", "hub") == before


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        (Fault(status=502, keep=True), "GitHub answered 502 after the request was taken"),
        (Fault(drop=True, keep=True), "the answer was lost (ConnectionError)"),
        (Fault(status=500), "GitHub answered 500 after the request was taken"),
    ],
)
def test_an_uncertain_write_keeps_the_key_and_the_next_run_writes_the_same_key_again(
    central: boto3.Session, github: GitHubStandIn, fault: Fault, words: str
):
    github.faults["AWS_ACCESS_KEY_ID"] = fault
    harness = _harness(central, {"bot": {"IKR:DELIVERY": f"github:{REPO}"}}, github_url=github.url)
    old = key_ids(harness, "prod", "bot")

    first = _one_row(harness, run_rotation(harness.services), "bot")

    assert first.outcome is Outcome.FAILED
    assert "delivery uncertain" in first.detail
    assert words in first.detail
    keys = key_ids(harness, "prod", "bot")
    assert len(keys) == 2
    assert old[0] in keys
    (item,) = items(harness, "prod")
    assert item.delivery_uncertain_at is not None
    assert item.state is not State.SCHEDULED

    github.faults.clear()
    harness.services.clock = fixed_clock(LATER + timedelta(minutes=10))
    rows = user_rows(run_rotation(harness.services), harness.world.account_ids["prod"], "bot")
    (second,) = [r for r in rows if r.outcome is not Outcome.PENDING]  # and a row for the old key's wait

    assert second.outcome is Outcome.RECOVERED, second.detail
    assert key_ids(harness, "prod", "bot") == keys  # no third key: the same one was written again
    assert github.value(REPO, "AWS_ACCESS_KEY_ID") == second.new_key_id == first.new_key_id
    (item,) = items(harness, "prod")
    assert item.state is State.SCHEDULED


def test_half_a_pair_written_is_uncertain(central: boto3.Session, github: GitHubStandIn):
    github.faults["AWS_SECRET_ACCESS_KEY"] = Fault(status=422)
    harness = _harness(central, {"bot": {"IKR:DELIVERY": f"github:{REPO}"}}, github_url=github.url)

    found = _one_row(harness, run_rotation(harness.services), "bot")

    assert "delivery uncertain" in found.detail
    assert "AWS_ACCESS_KEY_ID was written, then GitHub refused the request (422)" in found.detail
    assert "the pair there may be mixed" in found.detail
    assert len(key_ids(harness, "prod", "bot")) == 2


def test_a_write_that_times_out_is_uncertain(
    central: boto3.Session, gitlab: GitLabStandIn, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(http, "TIMEOUT_SECONDS", (2.0, 0.3))
    gitlab.delay = 1.0
    harness = _harness(central, {"bot": {"IKR:DELIVERY": f"gitlab:{PROJECT_ID}"}}, gitlab_url=gitlab.url)

    found = _one_row(harness, run_rotation(harness.services), "bot")

    assert "delivery uncertain" in found.detail
    assert "the answer was lost (ReadTimeout)" in found.detail
    assert len(key_ids(harness, "prod", "bot")) == 2


def _destroy_at(harness: Harness, user: str, late: timedelta = timedelta()) -> Destroyed:
    (item,) = [i for i in items(harness, "prod") if i.user_name == user and i.state is State.SCHEDULED]
    harness.table.remove(item)  # TTL
    mailer = RecordingMailer()
    context = DestroyContext(
        broker=harness.services.broker,
        table=harness.table,
        now=from_epoch(item.expires_at or 0) + late,
        retry_after=timedelta(minutes=5),
        grace_days=14,
        mailer=mailer,
        admin=AdminNotifier(mailer, "admin@example.com"),
    )
    return destroy(context, item, removed_by_ttl=True).outcome


def test_verify_use_holds_the_old_key_until_the_pipeline_uses_the_key_from_github(
    central: boto3.Session, github: GitHubStandIn
):
    harness = _harness(central, {"bot": {"IKR:DELIVERY": f"github:{REPO}"}}, github_url=github.url)
    run_rotation(harness.services)
    old, new = key_ids(harness, "prod", "bot")

    # Due, but the workflow has not run with the new secret yet: the old key stays.
    assert _destroy_at(harness, "bot") is Destroyed.POSTPONED
    assert key_ids(harness, "prod", "bot") == [old, new]

    caller_arn(_pair(github, REPO))  # the workflow runs with the secrets GitHub holds
    assert _destroy_at(harness, "bot") is Destroyed.DELETED
    assert key_ids(harness, "prod", "bot") == [new]


# -- a GitHub App instead of a token ---------------------------------------------------------------
APP_ID, APP_KEY_SECRET = "12345", "ikr/github-app-key"


def _pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()


def _app_harness(central: boto3.Session, github: GitHubStandIn, key_text: str, users: dict[str, dict[str, str]]):
    app_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    github.app = (APP_ID, app_key.public_key())
    central.client("secretsmanager").create_secret(Name=APP_KEY_SECRET, SecretString=key_text or _pem(app_key))
    return _harness(
        central,
        users,
        github_url=github.url,
        GITHUB_TOKEN_SECRET_NAME="",
        GITHUB_APP_ID=APP_ID,
        GITHUB_APP_PRIVATE_KEY_SECRET_NAME=APP_KEY_SECRET,
    )


def test_a_github_app_writes_with_one_installation_token_per_repository(central: boto3.Session):
    with GitHubStandIn({REPO, "octo/other"}, {ENV}) as github:
        harness = _app_harness(
            central,
            github,
            "",
            {
                "deployer": {"IKR:DELIVERY": f"github:{REPO}"},
                "releaser": {"IKR:DELIVERY": f"github:{ENV}", "IKR:SECRET_NAMES": "PROD_ID PROD_SECRET"},
                "other": {"IKR:DELIVERY": "github:octo/other"},
            },
        )
        prod = harness.world.account_ids["prod"]

        result = run_rotation(harness.services)

        for user in ("deployer", "releaser", "other"):
            assert _one_row(harness, result, user).outcome is Outcome.ROTATED
        assert caller_arn(_pair(github, REPO)) == f"arn:aws:iam::{prod}:user/deployer"
        assert caller_arn(_pair(github, ENV, ("PROD_ID", "PROD_SECRET"))) == f"arn:aws:iam::{prod}:user/releaser"
        assert caller_arn(_pair(github, "octo/other")) == f"arn:aws:iam::{prod}:user/other"
        assert len(github.installation_tokens) == 2  # octo/app's is kept for its second user
        details = " ".join(r.detail for r in user_rows(result, prod, "deployer"))
        assert not any(token in details for token in github.installation_tokens)


@pytest.mark.parametrize(
    ("change", "key_text", "words"),
    [
        (lambda github: github.installed.discard(REPO), "", "not found (404): an installation of GitHub App 12345"),
        (lambda github: None, "-----BEGIN NONSENSE-----", "is not an RSA key in PEM form"),
        (
            lambda github: setattr(github, "app", (APP_ID, rsa.generate_private_key(65537, 2048).public_key())),
            "",
            "GitHub refused the token (401)",
        ),
    ],
)
def test_a_github_app_that_cannot_get_a_token_is_a_refusal(central: boto3.Session, change, key_text: str, words: str):
    with GitHubStandIn({REPO}) as github:
        harness = _app_harness(central, github, key_text, {"bot": {"IKR:DELIVERY": f"github:{REPO}"}})
        change(github)
        before = key_ids(harness, "prod", "bot")

        found = _one_row(harness, run_rotation(harness.services), "bot")

        assert "delivery refused" in found.detail
        assert words in found.detail
        assert key_ids(harness, "prod", "bot") == before
        assert github.secrets == {}
