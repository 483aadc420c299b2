"""The small pure parts of the switch from aws-iam-key-rotator: MAIL_FROM with a display name, the
values of a pasted mail, the original's table told from ikr's by its key, its items read."""

from __future__ import annotations

import pytest

from central.aws.original_table import OriginalItem, UnreadableItem, is_original, read_item, refuse_foreign_schema
from central.domain.errors import SettingsError
from central.domain.mailed_values import mailed_values
from central.domain.sender import parse_sender

TOKEN_A = "gAAAAAB" + "a" * 93
TOKEN_B = "gAAAAAB" + "b" * 93 + "=="


@pytest.mark.parametrize(
    ("given", "address"),
    [
        ("ikr@example.com", "ikr@example.com"),
        ("IAM Key Rotator <ikr@example.com>", "ikr@example.com"),
        ('"Rotator, IAM" <ikr@example.com>', "ikr@example.com"),
        ("  ikr@example.com  ", "ikr@example.com"),
    ],
)
def test_mail_from_keeps_its_display_name_and_gives_the_address(given: str, address: str):
    sender = parse_sender(given)

    assert sender.header == given.strip()
    assert sender.address == address


@pytest.mark.parametrize(
    "given", ["IAM Key Rotator", "a@example.com, b@example.com", "Name <not-an-address>", "x <a@example.com> y"]
)
def test_mail_from_that_is_not_one_address_is_refused(given: str):
    with pytest.raises(ValueError, match="address"):
        parse_sender(given)


def test_a_pasted_mail_gives_each_value_once_with_its_label():
    mail = "\n".join(
        [
            "        Account: 123456789012 (acme)",
            f"        Access Key: {TOKEN_A}",
            f"        Secret Access Key: {TOKEN_B}",
            f"<p>Access Key: <b>{TOKEN_A}</b><br/>Secret Access Key: <b>{TOKEN_B}</b></p>",  # the HTML part
            f"<tr><th align='left'>Access Key:</th><td><code>{TOKEN_A}</code></td></tr>",
        ]
    )

    found = mailed_values(mail)

    assert [(value.label, value.token) for value in found] == [
        ("Access Key", TOKEN_A),
        ("Secret Access Key", TOKEN_B),
    ]


def test_bare_values_have_no_label_and_other_text_none():
    assert [(v.label, v.token) for v in mailed_values(f"{TOKEN_A}\n{TOKEN_B}\n")] == [(None, TOKEN_A), (None, TOKEN_B)]
    assert mailed_values("AKIAEXAMPLE gAAAAAshort") == []


IKR_KEY = [{"AttributeName": "account_id", "KeyType": "HASH"}, {"AttributeName": "item_key", "KeyType": "RANGE"}]
ORIGINAL_KEY = [{"AttributeName": "user", "KeyType": "HASH"}, {"AttributeName": "ak", "KeyType": "RANGE"}]


def test_the_originals_table_is_told_by_its_key_and_refused_with_the_import_command():
    refuse_foreign_schema("ikr-expiry", {"KeySchema": IKR_KEY})  # ikr's own: fine
    assert is_original({"KeySchema": ORIGINAL_KEY})

    with pytest.raises(SettingsError) as refused:
        refuse_foreign_schema("iam-key-rotator", {"KeySchema": ORIGINAL_KEY})

    message = str(refused.value)
    assert "table iam-key-rotator (IAM_KEY_ROTATOR_TABLE)" in message
    assert "ikr import-original --table iam-key-rotator" in message


def test_any_other_table_is_refused_naming_its_key():
    with pytest.raises(SettingsError, match=r"its key is id \(HASH\).*IAM_KEY_ROTATOR_TABLE"):
        refuse_foreign_schema("other", {"KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]})


def test_the_originals_items_are_read_and_a_broken_one_says_why():
    good = read_item(
        {
            "user": {"S": "bob"},
            "ak": {"S": "AKIAOLD0000000000001"},
            "email": {"S": "bob@example.com"},
            "delete_on": {"N": "1798761600"},
            "delete_enc_key": {"S": "Y"},
        }
    )
    broken = read_item({"user": {"S": "eve"}, "ak": {"S": "AKIAOLD0000000000002"}, "delete_on": {"N": "1.5"}})

    assert isinstance(good, OriginalItem)
    assert (good.delete_on, good.fernet_key_goes) == (1798761600, True)
    assert isinstance(broken, UnreadableItem)
    assert broken.user == "eve"
    assert "delete_on" in broken.reason
    assert "delete_enc_key" in broken.reason
