"""The mail a user gets with a new key: everything needed to act, nothing unsafe in the HTML."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from central.domain import crypto
from central.domain.model import Account
from central.notify.mail_content import NewKeyNotice, OldKeyDeletedNotice, new_key_mail, old_key_deleted_mail

ACCOUNT = Account(id="111122223333", name="payments")
DELETED_AT = datetime(2025, 3, 6, 14, 30, tzinfo=UTC)
KEY_ID = "AKIANEWKEY0000000001"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
OLD_KEY_ID = "AKIAOLDKEY0000000001"


def notice(**changes: object) -> NewKeyNotice:
    values: dict[str, object] = {
        "account": ACCOUNT,
        "user": "alice",
        "email": "alice@example.com",
        "new_key_id": KEY_ID,
        "secret": SecretStr(SECRET),
        "old_key_id": OLD_KEY_ID,
        "old_key_deleted_at": DELETED_AT,
        "instructions": "Update the CI secret. Then restart the app.",
    }
    values.update(changes)
    return NewKeyNotice.model_validate(values)


def test_a_plain_mail_gives_the_pair_and_everything_needed_to_act():
    mail = new_key_mail(notice())

    assert mail.to == "alice@example.com"
    assert "alice" in mail.subject
    assert "payments (111122223333)" in mail.subject
    for body in (mail.text, mail.html):
        assert "payments (111122223333)" in body
        assert "alice" in body
        assert KEY_ID in body
        assert SECRET in body
        assert OLD_KEY_ID in body
        assert "2025-03-06 14:30 UTC" in body
        assert "Update the CI secret. Then restart the app." in body
    assert f"Access Key: {KEY_ID}" in mail.text
    assert f"Secret Access Key: {SECRET}" in mail.text
    assert "decrypt" not in mail.text.lower()


def test_an_encrypted_mail_gives_only_ciphertexts_and_how_to_decrypt_them():
    fernet_key = crypto.new_key()
    encrypted_id = crypto.encrypt(fernet_key, KEY_ID)
    encrypted_secret = crypto.encrypt(fernet_key, SECRET)

    mail = new_key_mail(
        notice(
            encrypted_key_id=encrypted_id,
            secret=SecretStr(encrypted_secret),
            key_parameter="/ikr/secret/iam/alice",
        )
    )

    for body in (mail.text, mail.html):
        assert KEY_ID not in body
        assert SECRET not in body
        assert encrypted_id in body
        assert encrypted_secret in body
        assert "/ikr/secret/iam/alice" in body
        assert "ikr decrypt --user alice" in body
        assert "111122223333" in body
        assert OLD_KEY_ID in body
        assert "2025-03-06 14:30 UTC" in body
    assert f"Access Key: {encrypted_id}" in mail.text
    assert f"Secret Access Key: {encrypted_secret}" in mail.text
    # what the mail says can be done, can be done
    assert crypto.decrypt(fernet_key, encrypted_id) == KEY_ID
    assert crypto.decrypt(fernet_key, encrypted_secret) == SECRET


def test_without_instructions_the_instruction_line_is_there_and_empty():
    # The original tool's mail always has the line: a runbook reading it finds it, empty.
    mail = new_key_mail(notice(instructions=""))

    assert "\nInstruction: \n" in mail.text
    assert "Instructions" not in mail.text
    assert "Instructions" not in mail.html


def test_the_mail_keeps_the_original_tools_contract():
    mail = new_key_mail(notice(account_alias="acme-payments"))

    assert "New Access Key Pair" in mail.subject
    assert "Account: 111122223333 (acme-payments)" in mail.text
    assert "Account:</th><td><code>111122223333 (acme-payments)</code>" in mail.html
    assert f"Access Key: {KEY_ID}\n" in mail.text
    assert f"Secret Access Key: {SECRET}\n" in mail.text
    assert "Instruction: Update the CI secret. Then restart the app." in mail.text
    assert f"Your old key {OLD_KEY_ID} stops working when it is deleted at 2025-03-06 14:30 UTC." in mail.text


def test_the_deletion_mail_names_the_key_in_the_originals_subject():
    mail = old_key_deleted_mail(
        OldKeyDeletedNotice(
            account_id="111122223333",
            account_alias="acme",
            user="alice",
            email="alice@example.com",
            old_key_id=OLD_KEY_ID,
            new_key_id=KEY_ID,
        )
    )

    assert mail.to == "alice@example.com"
    assert "Old Access Key Pair Deleted" in mail.subject
    assert OLD_KEY_ID in mail.subject
    assert "Account: 111122223333 (acme)" in mail.text
    assert f"Access Key: {OLD_KEY_ID}" in mail.text
    assert KEY_ID in mail.text  # the key to use now
    assert OLD_KEY_ID in mail.html


@pytest.mark.parametrize(
    "changes",
    [
        {"account": Account(id="111122223333", name="<script>alert(1)</script>")},
        {"instructions": "<script>alert(1)</script>"},
        {"old_key_id": "<script>alert(1)</script>"},
        {"secret": SecretStr("<script>alert(1)</script>")},
    ],
    ids=["account name", "instructions", "old key id", "secret"],
)
def test_the_html_part_escapes_every_value(changes):
    mail = new_key_mail(notice(**changes))

    assert "<script>" not in mail.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in mail.html
    assert "<script>alert(1)</script>" in mail.text  # the text part is plain text: left as is


def test_an_ampersand_and_quotes_are_escaped_in_html():
    mail = new_key_mail(notice(instructions='Ask "ops" & "sec" first'))

    assert "Ask &quot;ops&quot; &amp; &quot;sec&quot; first" in mail.html
    assert 'Ask "ops" & "sec" first' in mail.text


def test_with_deactivation_the_mail_says_when_the_old_key_goes_inactive_and_when_it_is_deleted():
    mail = new_key_mail(notice(deactivate_days=7))

    assert f"made inactive at {DELETED_AT:%Y-%m-%d %H:%M} UTC" in mail.text
    assert "deleted 7 day(s) later" in mail.text
    assert "made inactive at" in mail.html


def test_the_still_used_reminder_names_where_and_when_the_old_key_was_used():
    from central.notify.mail_content import LastUse, OldKeyStillUsedNotice, old_key_still_used_mail

    used = LastUse(at=datetime(2025, 3, 5, 9, 15, tzinfo=UTC), service="s3", region="eu-central-1")
    mail = old_key_still_used_mail(
        OldKeyStillUsedNotice(
            account_id=ACCOUNT.id,
            user="alice<script>",
            email="alice@example.com",
            old_key_id=OLD_KEY_ID,
            new_key_id=KEY_ID,
            last_use=used,
            action="made inactive",
            deleted_at=DELETED_AT,
        )
    )

    assert "last used 2025-03-05 09:15 UTC by s3 in eu-central-1" in mail.text
    assert f"It is made inactive now; it is deleted at {DELETED_AT:%Y-%m-%d %H:%M} UTC" in mail.text
    assert KEY_ID in mail.text
    assert "<script>" not in mail.html
