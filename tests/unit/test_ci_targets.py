"""github:/gitlab: delivery targets and IKR:SECRET_NAMES as the scan reads them: good values become a
target that survives the journal, bad ones a problem naming the account, user, tag and reason."""

from __future__ import annotations

import pytest

from central.domain import tags as t
from central.domain.delivery import Via, parse_delivery, recorded_delivery
from central.domain.policy import Action, decide
from tests.unit.factories import ACCOUNT_ID, NOW, account_scope, key, user

OLD_ID = "AKIAOLDKEY0000000001"


def _decide(tags: dict[str, str]):
    return decide(user(key(OLD_ID, age_days=400), name="ci-bot", extra=tags), account_scope(), NOW, [])


@pytest.mark.parametrize(
    ("value", "where"),
    [
        (
            "github:octo-org/app",
            "GitHub Actions secrets AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY of repository octo-org/app",
        ),
        ("GitHub:octo/app.web/prod-eu", "of environment prod-eu of repository octo/app.web"),
        (
            "gitlab:group/sub/project",
            "GitLab CI/CD variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY of project group/sub/project",
        ),
        ("gitlab:4242", "of project 4242"),
    ],
)
def test_a_ci_target_is_a_store_that_verifies_use_and_survives_the_journal(value: str, where: str):
    decision = _decide({"IKR:DELIVERY": value})

    assert decision.action is Action.ROTATE
    assert decision.delivery.to_ci
    assert decision.delivery.to_store
    assert decision.verify_use is True  # a machine reads it: ikr checks the switch
    assert where in decision.delivery.where
    assert recorded_delivery(str(decision.delivery)) == decision.delivery


def test_secret_names_name_the_pair_and_are_recorded_with_the_target():
    decision = _decide({"IKR:DELIVERY": "github:octo/app/prod", "ikr:secret_names": "DEPLOY_KEY_ID DEPLOY_SECRET"})

    assert decision.delivery.secret_names == ("DEPLOY_KEY_ID", "DEPLOY_SECRET")
    assert str(decision.delivery) == "github:octo/app/prod#DEPLOY_KEY_ID,DEPLOY_SECRET"
    assert recorded_delivery(str(decision.delivery)).secret_names == ("DEPLOY_KEY_ID", "DEPLOY_SECRET")
    assert "DEPLOY_KEY_ID and DEPLOY_SECRET" in decision.delivery.where


@pytest.mark.parametrize(
    ("tags", "tag", "words"),
    [
        ({"IKR:DELIVERY": "github:octo"}, t.DELIVERY, "the repository is missing"),
        ({"IKR:DELIVERY": "github:octo/"}, t.DELIVERY, "the repository is missing"),
        ({"IKR:DELIVERY": "github:-octo/app"}, t.DELIVERY, "'-octo' is not a GitHub owner"),
        ({"IKR:DELIVERY": "github:oc--to/app"}, t.DELIVERY, "'oc--to' is not a GitHub owner"),
        ({"IKR:DELIVERY": "github:" + "o" * 40 + "/app"}, t.DELIVERY, "is not a GitHub owner"),
        ({"IKR:DELIVERY": "github:octo/.."}, t.DELIVERY, "'..' is not a GitHub repository name"),
        ({"IKR:DELIVERY": "github:octo/app/pro d"}, t.DELIVERY, "'pro d' is not an environment name"),
        ({"IKR:DELIVERY": "github:octo/app/prod/x"}, t.DELIVERY, "at most three parts"),
        ({"IKR:DELIVERY": "gitlab:0"}, t.DELIVERY, "'0' is not a GitLab project id"),
        ({"IKR:DELIVERY": "gitlab:project"}, t.DELIVERY, "neither a GitLab project id"),
        ({"IKR:DELIVERY": "gitlab:group/-x"}, t.DELIVERY, "'-x' in 'group/-x' is not a GitLab namespace or project"),
        ({"IKR:DELIVERY": "gitlab:group/app.git"}, t.DELIVERY, "is not a GitLab namespace or project"),
        ({"IKR:DELIVERY": "github:octo/app", "IKR:SECRET_NAMES": "ONE"}, t.SECRET_NAMES, "give two names"),
        ({"IKR:DELIVERY": "github:octo/app", "IKR:SECRET_NAMES": "A a"}, t.SECRET_NAMES, "the two names are the same"),
        ({"IKR:DELIVERY": "github:octo/app", "IKR:SECRET_NAMES": "1ID SECRET"}, t.SECRET_NAMES, "not a GitHub secret"),
        ({"IKR:DELIVERY": "github:octo/app", "IKR:SECRET_NAMES": "GITHUB_ID S"}, t.SECRET_NAMES, "reserves"),
        (
            {"IKR:DELIVERY": "gitlab:g/p", "IKR:SECRET_NAMES": "ID-1 SECRET"},
            t.SECRET_NAMES,
            "not a GitLab variable key",
        ),
    ],
)
def test_a_bad_ci_tag_skips_the_user_with_a_problem_naming_account_user_tag_and_reason(
    tags: dict[str, str], tag: str, words: str
):
    decision = _decide(tags)

    assert decision.action is Action.SKIP
    assert decision.bad_input is True
    (problem,) = decision.problems
    assert (problem.account_id, problem.user, problem.key) == (ACCOUNT_ID, "ci-bot", tag)
    assert tag in problem.reason
    assert words in problem.reason


def test_secret_names_without_a_ci_target_are_a_warning_not_a_skip():
    decision = _decide({"IKR:DELIVERY": "ssm:/ikr/x", "IKR:SECRET_NAMES": "A/B"})

    assert decision.action is Action.ROTATE
    assert decision.bad_input is True
    assert any("applies to github: and gitlab: deliveries only" in warning for warning in decision.warnings)


def test_the_message_for_an_unknown_kind_lists_the_ci_targets_too():
    with pytest.raises(ValueError, match="github:<owner>/<repository>") as caught:
        parse_delivery("bitbucket:octo/app")
    assert "is not mail, secretsmanager:<secret name> or ssm:<parameter name>" in str(caught.value)
    assert parse_delivery("gitlab:7").via is Via.GITLAB


def test_explain_says_which_ci_secrets_the_key_is_written_to():
    from central.report.explain import _delivery
    from central.report.rows import AccountState, ReportRow, RowKind

    row = ReportRow(
        kind=RowKind.MANAGED,
        account_id="111122223333",
        account_name="prod",
        account_state=AccountState.OPTED_IN,
        user="releaser",
        email="platform@example.com",
        delivery="github:octo/app/prod#PROD_KEY_ID,PROD_SECRET",
        verify_use=True,
    )

    assert _delivery(row).lines[0] == (
        "delivery: github:octo/app/prod#PROD_KEY_ID,PROD_SECRET (written to GitHub Actions secrets PROD_KEY_ID and "
        "PROD_SECRET of environment prod of repository octo/app; the owner is told)"
    )


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"GITHUB_APP_ID": "12345"}, "GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY_SECRET_NAME go together"),
        ({"GITHUB_APP_PRIVATE_KEY_SECRET_NAME": "ikr/app-key"}, "go together"),
        (
            {"GITHUB_APP_ID": "1", "GITHUB_APP_PRIVATE_KEY_SECRET_NAME": "k", "GITHUB_TOKEN_SECRET_NAME": "t"},
            "not both",
        ),
        ({"GITHUB_APP_ID": "twelve"}, "GITHUB_APP_ID"),
        ({"GITHUB_API_URL": "api.github.com"}, "GITHUB_API_URL"),
        ({"GITLAB_TOKEN_SECRET_NAME": "no spaces allowed"}, "GITLAB_TOKEN_SECRET_NAME"),
    ],
)
def test_ci_settings_are_checked_at_start(values: dict[str, str], words: str, monkeypatch: pytest.MonkeyPatch):
    from central.domain.errors import SettingsError
    from central.settings import load_settings

    for name, value in {"MAIL_FROM": "ikr@example.com", **values}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=words):
        load_settings()


def test_a_github_app_id_may_be_a_client_id(monkeypatch: pytest.MonkeyPatch):
    from central.settings import load_settings

    for name, value in {"MAIL_FROM": "ikr@example.com", "GITHUB_APP_ID": "Iv23liABCDEF"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GITHUB_APP_PRIVATE_KEY_SECRET_NAME", "ikr/app-key")
    assert load_settings().GITHUB_APP_ID == "Iv23liABCDEF"
