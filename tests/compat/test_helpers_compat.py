"""The original's two helper scripts and what replaces them: `ikr tag-users` reads `iam-user-tags.json`
as `tag-iam-users.py` did (the same users tagged), and `ikr decrypt` reads what the original mailed as
`decryption.py` did, and says where it looked when the user's Fernet key is not there.

The scripts' behaviour is encoded from their v3.6 code (`tests/compat/original.py`); they are not run."""

from __future__ import annotations

import io
import json
from pathlib import Path

import boto3
import pytest
from cryptography.fernet import Fernet

from tests.compat import original
from tests.compat.standalone import environment, ikr

pytestmark = pytest.mark.usefixtures("ikr_logging_restored")

EMPLOYEES = {
    "123456789012": {"IKR:EMAIL": "emp1@example.com"},  # twelve digits: an employee number, not an account
    "000000004711": {"IKR:EMAIL": "emp2@example.com", "IKR:ROTATE_AFTER_DAYS": "30"},
    "alice": {"ikr:email": "alice@example.com", "IKR:INSTRUCTION_0": "Update CI."},
}


def _users(central: boto3.Session, names: list[str]) -> None:
    for name in names:
        central.client("iam").create_user(UserName=name)


def _tags(central: boto3.Session, user: str) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in central.client("iam").list_user_tags(UserName=user)["Tags"]}


def _file(tmp_path: Path, data: object) -> str:
    path = tmp_path / "iam-user-tags.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def test_all_digit_user_names_are_user_names_and_the_same_users_are_tagged(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
):
    environment(monkeypatch, 25)
    _users(central, list(EMPLOYEES))

    run = ikr(capsys, "tag-users", _file(tmp_path, EMPLOYEES))

    assert run.code == 0, run.out + run.err
    tagged = [user for user in EMPLOYEES if _tags(central, user)]
    assert tagged == original.tag_users_file(EMPLOYEES)
    for user, tags in EMPLOYEES.items():
        assert _tags(central, user) == tags
    assert "3 of 3 user(s) tagged" in run.out


def test_ikrs_own_multi_account_shape_still_groups_by_account(tmp_path: Path):
    from central.tagging.tag_users import parse

    entries = parse({"111122223333": {"123456789012": {"IKR:EMAIL": "emp@example.com"}}}, "file")

    assert [(entry.account_id, entry.user) for entry in entries] == [("111122223333", "123456789012")]


@pytest.mark.parametrize("content", ["{}", "  {}\n"])
def test_an_empty_file_says_there_are_no_users(
    central: boto3.Session,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    content: str,
):
    environment(monkeypatch, 25)
    path = tmp_path / "iam-user-tags.json"
    path.write_text(content, encoding="utf-8")

    run = ikr(capsys, "tag-users", str(path))

    assert run.code == 0
    assert "no users in the file" in run.out
    assert "{}" not in run.out + run.err
    assert original.tag_users_file({}) == []


def test_one_unknown_user_is_named_and_the_others_are_tagged(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
):
    environment(monkeypatch, 25)
    _users(central, ["123456789012", "alice"])  # 000000004711 was never made

    run = ikr(capsys, "tag-users", _file(tmp_path, EMPLOYEES))

    assert run.code == 1
    assert "FAILED this account: 000000004711:" in run.out
    assert _tags(central, "123456789012") == EMPLOYEES["123456789012"]
    assert _tags(central, "alice") == EMPLOYEES["alice"]
    assert "2 of 3 user(s) tagged" in run.out


def test_decrypt_reads_the_originals_mail_pasted_whole(
    central: boto3.Session,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):
    environment(monkeypatch, 25)
    fernet_key = Fernet.generate_key().decode()
    central.client("ssm").put_parameter(Name="/ikr/secret/iam/bob", Value=fernet_key, Type="SecureString")
    cipher = Fernet(fernet_key.encode())
    key_id, secret = "AKIAORIGINAL00000001", "orig/secret+value0000000000000000000000"
    mail = original.original_mail_text(
        "123456789012",
        "acme",
        "bob",
        cipher.encrypt(key_id.encode()).decode(),
        cipher.encrypt(secret.encode()).decode(),
        "AKIAOLD0000000000001",
        5,
    )
    monkeypatch.setattr("sys.stdin", io.StringIO(mail))

    run = ikr(capsys, "decrypt", "--user", "bob")

    assert run.code == 0, run.err
    assert run.out.splitlines() == [f"Access Key: {key_id}", f"Secret Access Key: {secret}"]
    # and one value given alone, as decryption.py's CIPHER_TEXT
    single = ikr(capsys, "decrypt", "--user", "bob", cipher.encrypt(key_id.encode()).decode())
    assert single.out.splitlines() == [key_id]


def test_decrypt_names_the_region_and_parameter_it_looked_in(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    environment(monkeypatch, 25)
    monkeypatch.setattr("sys.stdin", io.StringIO("gAAAAA"))

    run = ikr(capsys, "decrypt", "--user", "bob")

    assert run.code == 2
    assert "this account (123456789012)" in run.err
    assert "/ikr/secret/iam/bob" in run.err
    assert "region us-east-1" in run.err
