"""Fernet encryption of a mailed key pair (the original tool's scheme)."""

from __future__ import annotations

import base64
import re

import pytest
from cryptography.fernet import Fernet

from central.aws.ssm_secrets import parameter_name, pending_name
from central.domain import crypto


def test_a_new_key_is_a_fernet_key_and_every_key_is_different():
    keys = {crypto.new_key() for _ in range(5)}

    assert len(keys) == 5
    for key in keys:
        assert len(base64.urlsafe_b64decode(key)) == 32
        Fernet(key)  # accepted as is


def test_encrypt_then_decrypt_gives_the_text_back():
    key = crypto.new_key()
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY+é"

    token = crypto.encrypt(key, secret)

    assert secret not in token
    assert crypto.decrypt(key, token) == secret


def test_the_same_text_encrypts_differently_each_time():
    key = crypto.new_key()

    assert crypto.encrypt(key, "AKIAEXAMPLE") != crypto.encrypt(key, "AKIAEXAMPLE")


def test_it_interoperates_with_plain_fernet_both_ways():
    key = crypto.new_key()

    assert Fernet(key.encode()).decrypt(crypto.encrypt(key, "abc").encode()) == b"abc"
    assert crypto.decrypt(key, Fernet(key.encode()).encrypt(b"xyz").decode()) == "xyz"


def test_whitespace_around_a_pasted_value_is_ignored():
    key = crypto.new_key()
    token = crypto.encrypt(key, "secret")

    assert crypto.decrypt(key, f"  {token}\n") == "secret"


@pytest.mark.parametrize(
    "damage",
    [
        lambda token, key: (crypto.new_key(), token),  # another user's key, or a later rotation's
        lambda token, key: (key, token[:-6] + "AAAAAA"),  # damaged in the mail
        lambda token, key: (key, token[:20]),  # cut short
        lambda token, key: (key, "not base64 at all ✓"),
        lambda token, key: (key, ""),
    ],
    ids=["other key", "damaged", "truncated", "not ascii", "empty"],
)
def test_what_cannot_be_decrypted_is_a_decryption_error_without_the_key(damage):
    key = crypto.new_key()
    token = crypto.encrypt(key, "the-secret-access-key")
    used_key, text = damage(token, key)

    with pytest.raises(crypto.DecryptionError) as raised:
        crypto.decrypt(used_key, text)

    message = str(raised.value)
    assert "cannot be decrypted" in message
    assert used_key not in message
    assert key not in message
    assert "the-secret-access-key" not in message


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("alice", "/ikr/secret/iam/alice"),
        ("svc_ci-1.prod", "/ikr/secret/iam/svc_ci-1.prod"),
        ("john.doe@corp.com", "/ikr/secret/iam/x/" + b"john.doe@corp.com".hex()),
        ("a+b=c,d", "/ikr/secret/iam/x/" + b"a+b=c,d".hex()),
    ],
)
def test_ssm_names_keep_the_original_contract_and_encode_what_ssm_cannot_hold(user, expected):
    assert parameter_name(user) == expected
    assert pending_name(user) == expected + "/pending"
    assert re.fullmatch(r"[A-Za-z0-9_./-]+", parameter_name(user))  # what SSM accepts in a name
