"""Fernet encryption of a mailed key pair: the original tool's scheme, kept for its users."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken

from central.domain.errors import IkrError


class DecryptionError(IkrError):
    """The ciphertext was not made with this key, or was damaged in the mail."""


def new_key() -> str:
    return Fernet.generate_key().decode("ascii")


def encrypt(key: str, plaintext: str) -> str:
    return Fernet(key.encode("ascii")).encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(key: str, ciphertext: str) -> str:
    try:
        return Fernet(key.encode("ascii")).decrypt(ciphertext.strip().encode("ascii")).decode("utf-8")
    except (InvalidToken, ValueError):
        raise DecryptionError(
            "the text cannot be decrypted with this user's key: it was made with another key "
            "(a later rotation replaced it, or the old key's deletion removed it) or was damaged"
        ) from None
