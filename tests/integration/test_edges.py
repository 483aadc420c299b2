"""Rule 10, addresses and secrets at the edges, through `ikr` in process against moto and real
local servers: an internationalized domain is mailed in IDNA form, a non-ASCII local part is a tag
problem naming account, user and tag; a relay that quotes the message (and its secret) in a 554
leaks nothing into the output, the logs, the admin notice, the webhook or the report; `ikr
tag-users` refuses a file the scan would refuse, before tagging anyone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from central.domain.redaction import forget_all
from tests.integration.cli_world import (
    ADMIN,
    ikr,
    keys,
    org,
)
from tests.integration.faults import Faults
from tests.integration.fixtures_extra import shared_botocore_loader  # noqa: F401 - autouse: speed
from tests.support.servers import QUOTE, FaultySmtpServer, SmtpSink, WebhookSink, parse_mail
from tests.support.world import AccountSpec, OrgSpec, UserSpec

pytestmark = pytest.mark.usefixtures("ikr_logging_restored")

TOKEN = "T0KEN-webhook-edges-5a1f"


@pytest.fixture(autouse=True)
def fresh_secrets() -> Iterator[None]:
    forget_all()  # each test shows what its own run remembers
    yield
    forget_all()


def one_account(*users: UserSpec) -> OrgSpec:
    return OrgSpec(
        ous={"Work": {"IKR:ENABLED": "true", "IKR:ROTATE_AFTER_DAYS": "60"}},
        accounts=[AccountSpec("prod", "Work", {}, list(users))],
    )


def test_an_internationalized_domain_is_mailed_in_idna_form_and_a_non_ascii_local_part_is_a_tag_problem(
    central: boto3.Session,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
):
    spec = one_account(
        UserSpec("bea", {"IKR:EMAIL": "bea@bücher.example"}),
        UserSpec("jurgen", {"IKR:EMAIL": "jürgen@example.com"}),
    )
    with SmtpSink() as relay:
        world = org(central, monkeypatch, relay.port, spec)
        (jurgen_key,) = keys(world, "prod", "jurgen")

        run = ikr(capsys, caplog, "rotate")
        mails = relay.wait_for(2)

    assert run.code == 1  # jurgen's tag
    assert "rotated" in run.line_for("bea")
    to_bea = next(mail for mail in mails if mail.envelope_to != (ADMIN,))
    assert to_bea.envelope_to == ("bea@xn--bcher-kva.example",)
    assert to_bea.to == "bea@xn--bcher-kva.example"
    jurgen = run.line_for("jurgen")
    assert "IKR:EMAIL='jürgen@example.com'" in jurgen
    assert "not plain ASCII" in jurgen
    assert keys(world, "prod", "jurgen") == [jurgen_key]  # skipped: no key made
    prod = world.account_ids["prod"]
    admin = next(mail for mail in mails if mail.envelope_to == (ADMIN,))
    assert f"account {prod} (prod) user jurgen" in admin.text  # account, user and tag in one line
    assert "IKR:EMAIL" in admin.text


def secrets_of_the_run(faults: Faults) -> set[str]:
    found = {response["AccessKey"]["SecretAccessKey"] for response in faults.responses("CreateAccessKey")}
    for call in faults.calls:
        if call.operation == "PutParameter" and call.params.get("Type") == "SecureString":
            value = call.params["Value"]
            found.add(value)
            if value.startswith("{"):
                found.add(json.loads(value)["SecretAccessKey"])
    return found


@pytest.mark.parametrize("encrypt", [False, True], ids=["plain-pair", "encrypted-pair"])
def test_a_relay_quoting_the_message_in_its_554_leaks_no_secret_anywhere(
    central: boto3.Session,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    encrypt: bool,
):
    faults = Faults(monkeypatch)
    spec = one_account(UserSpec("alice", {"IKR:EMAIL": "alice@example.com"}))
    with FaultySmtpServer({"end": QUOTE}, spare=frozenset({ADMIN})) as relay, WebhookSink(token=TOKEN) as webhook:
        world = org(central, monkeypatch, relay.port, spec)
        monkeypatch.setenv("ENCRYPT_KEY_PAIR", str(encrypt).lower())
        monkeypatch.setenv("NOTIFY_WEBHOOK_URL", webhook.url)
        (old,) = keys(world, "prod", "alice")

        run = ikr(capsys, caplog, "rotate")
        report = ikr(capsys, caplog, "report", "--format", "json")
        hooks = [json.dumps(body) for body in webhook.received]

    assert run.code == 1
    line = run.line_for("alice")
    assert "554" in line, line  # the refusal is reported...
    assert keys(world, "prod", "alice") == [old]  # ...as refused: the new key was removed again
    (quoted,) = [raw for raw in relay.received if b"\nTo: alice@example.com" in raw]
    secrets = secrets_of_the_run(faults)
    mailed = parse_mail(quoted).text
    values = [line.split(": ", 1)[1] for line in mailed.splitlines() if "Secret Access Key: " in line]
    secrets |= set(values)  # the plain secret, or its Fernet ciphertext
    assert values
    assert len(secrets) >= (3 if encrypt else 2)  # secret (+ pending pair), + Fernet key and ciphertext
    assert any(secret in mailed for secret in secrets)  # the relay had them to quote
    (admin,) = [mail for mail in relay.accepted if mail.envelope_to == (ADMIN,)]
    haystack = "\n".join([run.everything(), report.out, report.err, admin.text, admin.html, *hooks])
    assert "alice" in admin.text
    assert "delivery-failed" in "".join(hooks)
    leaked = sorted(secret for secret in secrets | {TOKEN} if secret in haystack)
    assert leaked == []
    # Nor a piece of one: the quote of an encoded body holds the values in pieces (quoted-printable lines).
    pieces = {value[i : i + 24] for value in values for i in range(len(value) - 23)}
    assert sorted(piece for piece in pieces if piece in haystack) == []


def tag_file(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "iam-user-tags.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("tags", "problem"),
    [
        ({"IKR:DELIVERY": "secretsmanager:other/ci"}, "IKR:DELIVERY='secretsmanager:other/ci': the secret name must"),
        ({"IKR:DELIVERY": "ssm:/ikr/secret/iam/ci"}, "is where ikr keeps its own keys"),
        ({"IKR:DELIVERY": "s3:bucket"}, "is not mail, secretsmanager:<secret name> or ssm:<parameter name>"),
        ({"IKR:VERIFY_USE": "yes"}, "IKR:VERIFY_USE='yes' must be true or false"),
        ({"IKR:EMAIL": "jürgen@example.com"}, "not plain ASCII"),
        ({"IKR:ROTATE_AFTER_DAYS": "0"}, "IKR:ROTATE_AFTER_DAYS='0' must be between 1 and"),
        ({"IKR:ENABLED": "true"}, "IKR:ENABLED is not a tag ikr reads"),
        ({"IKR:INSTRUCTION_X": "hi"}, "IKR:INSTRUCTION_X is not IKR:INSTRUCTION_<number>"),
    ],
    ids=[
        "delivery-prefix",
        "delivery-reserved",
        "delivery-kind",
        "verify-use",
        "email-local",
        "days",
        "unknown-key",
        "instruction",
    ],
)
def test_tag_users_refuses_what_the_scan_would_refuse_and_tags_nobody(
    central: boto3.Session,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
    tags: dict[str, str],
    problem: str,
):
    iam = central.client("iam")
    for user in ("ci", "ok"):
        iam.create_user(UserName=user)
    path = tag_file(tmp_path, {"ok": {"IKR:EMAIL": "ok@example.com"}, "ci": {"IKR:EMAIL": "ci@example.com", **tags}})

    run = ikr(capsys, caplog, "tag-users", str(path), days=None)

    assert run.code == 2, run.out + run.err
    (line,) = [line.strip() for line in run.err.splitlines() if problem in line]
    assert line.startswith(f"{path}: user 'ci': "), run.err  # the file entry, the user; the tag is in the problem
    assert "nothing was tagged" in run.err
    assert iam.list_user_tags(UserName="ok")["Tags"] == []
    assert iam.list_user_tags(UserName="ci")["Tags"] == []


def test_tag_users_judges_delivery_against_the_configured_prefix(
    central: boto3.Session,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
):
    central.client("iam").create_user(UserName="ci")
    path = tag_file(tmp_path, {"ci": {"IKR:EMAIL": "ci@example.com", "IKR:DELIVERY": "secretsmanager:machines/ci"}})

    refused = ikr(capsys, caplog, "tag-users", str(path), days=None)
    monkeypatch.setenv("DELIVERY_PREFIX", "machines/")
    tagged = ikr(capsys, caplog, "tag-users", str(path), days=None)
    monkeypatch.setenv("DELIVERY_PREFIX", "not a prefix")
    bad_setting = ikr(capsys, caplog, "tag-users", str(path), days=None)

    assert refused.code == 2
    assert "the secret name must start with 'ikr/'" in refused.err
    assert tagged.code == 0, tagged.out + tagged.err
    tags = central.client("iam").list_user_tags(UserName="ci")["Tags"]
    assert {"Key": "IKR:DELIVERY", "Value": "secretsmanager:machines/ci"} in tags
    assert bad_setting.code == 2
    assert "DELIVERY_PREFIX" in bad_setting.err
