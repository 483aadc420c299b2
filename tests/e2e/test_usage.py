"""Bad settings and usage exit 2 with a message naming the culprit; `ikr tag-users` on member accounts."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import E2E
from tests.support.servers import MotoServer, env_for, ikr_command

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        pytest.param(["rotate"], {"ROTATE_AFTER_DAYS": "ninety"}, "ROTATE_AFTER_DAYS", id="days-not-a-number"),
        pytest.param(["rotate"], {"DELETE_AFTER_DAYS": "0"}, "DELETE_AFTER_DAYS", id="days-zero"),
        pytest.param(["rotate"], {"SMTP_SERVER": None}, "SMTP_SERVER", id="smtp-without-server"),
        pytest.param(["rotate"], {"MAIL_FROM": "not-an-address"}, "MAIL_FROM", id="bad-sender"),
        pytest.param(["rotate", "--account", "123"], {}, "12-digit", id="short-account-id"),
        pytest.param(["rotate", "--now", "next tuesday"], {}, "ISO-8601", id="bad-now"),
        pytest.param(["bootstrap"], {"IAM_KEY_ROTATOR_TABLE": "a b"}, "IAM_KEY_ROTATOR_TABLE", id="bad-table"),
        pytest.param(
            ["rotate"],
            {"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None, "AWS_SESSION_TOKEN": None},
            "no AWS credentials",
            id="no-credentials",
        ),
    ],
)
def test_bad_settings_and_usage_exit_2_naming_the_culprit(
    moto_server: MotoServer, tmp_path: Path, args: list[str], env: dict[str, str | None], named: str
) -> None:
    environment = env_for(moto_server.url, AWS_EC2_METADATA_DISABLED="true", **env)
    done = subprocess.run(
        [*ikr_command(), *args], env=environment, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )

    assert done.returncode == 2, done.stdout + done.stderr
    assert named in done.stderr
    assert "Traceback" not in done.stderr


def test_an_account_outside_the_organization_is_a_usage_error(e2e: E2E) -> None:
    e2e.create_table()

    run = e2e.ikr("rotate", "--account", "999999999999")

    assert run.code == 2
    assert "999999999999" in run.stderr
    assert "not an ACTIVE account" in run.stderr
    assert e2e.sink.messages == []


def write(path: Path, content: object) -> Path:
    path.write_text(json.dumps(content, indent=1), encoding="utf-8")
    return path


def test_tag_users_tags_member_accounts_and_dry_run_tags_nothing(e2e: E2E) -> None:
    prod, dev = e2e.account("prod"), e2e.account("dev")
    file = write(
        e2e.cwd / "iam-user-tags.json",
        {
            prod: {"untagged": {"IKR:EMAIL": "ops@example.com", "IKR:ROTATE_AFTER_DAYS": "30"}},
            dev: {"dave": {"IKR:INSTRUCTION_0": "Update the laptop profile."}},
        },
    )

    dry = e2e.ikr("tag-users", "--dry-run", str(file))

    assert dry.code == 0, dry.stderr
    assert f"would tag {prod}: untagged: IKR:EMAIL=ops@example.com, IKR:ROTATE_AFTER_DAYS=30" in dry.lines
    assert dry.lines[-1] == "tag-users: 2 of 2 user(s) would be tagged"
    assert e2e.user_tags("prod", "untagged") == {}
    assert "IKR:INSTRUCTION_0" not in e2e.user_tags("dev", "dave")

    real = e2e.ikr("tag-users", str(file))

    assert real.code == 0, real.stderr
    assert f"tagged {dev}: dave: IKR:INSTRUCTION_0=Update the laptop profile." in real.lines
    assert real.lines[-1] == "tag-users: 2 of 2 user(s) tagged"
    assert e2e.user_tags("prod", "untagged") == {"IKR:EMAIL": "ops@example.com", "IKR:ROTATE_AFTER_DAYS": "30"}
    assert e2e.user_tags("dev", "dave") == {
        "IKR:EMAIL": "dave@example.com",  # kept: tagging adds, never replaces the whole set
        "IKR:INSTRUCTION_0": "Update the laptop profile.",
    }


def test_tag_users_with_a_bad_value_tags_nobody(e2e: E2E) -> None:
    prod, dev = e2e.account("prod"), e2e.account("dev")
    file = write(
        e2e.cwd / "bad.json",
        {
            dev: {"dave": {"IKR:DELETE_AFTER_DAYS": "7"}},
            prod: {"untagged": {"IKR:EMAIL": "not-an-address"}},
        },
    )

    run = e2e.ikr("tag-users", str(file))

    assert run.code == 2
    assert "nothing was tagged" in run.stderr
    problem = next(line for line in run.stderr.splitlines() if "IKR:EMAIL" in line)
    assert prod in problem
    assert "'untagged'" in problem
    assert "not-an-address" in problem
    assert e2e.user_tags("prod", "untagged") == {}
    assert "IKR:DELETE_AFTER_DAYS" not in e2e.user_tags("dev", "dave")
