"""Fernet encryption of a mailed key pair: the original tool's scheme, kept for its users.

`cryptography` is imported by the first encryption or decryption, not with this module: the
destructor and the reporter reach this module (through the SSM adapter) but never encrypt, and the
import costs a cold start ~10 ms.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from central.domain.errors import IkrError

if TYPE_CHECKING:
    from cryptography.fernet import Fernet


class DecryptionError(IkrError):
    """The ciphertext was not made with this key, or was damaged in the mail."""


def _fernet() -> type[Fernet]:
    from cryptography.fernet import Fernet  # noqa: PLC0415 - see the module's docstring

    return Fernet


def new_key() -> str:
    return _fernet().generate_key().decode("ascii")


def encrypt(key: str, plaintext: str) -> str:
    return _fernet()(key.encode("ascii")).encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(key: str, ciphertext: str) -> str:
    from cryptography.fernet import InvalidToken  # noqa: PLC0415 - see the module's docstring

    try:
        return _fernet()(key.encode("ascii")).decrypt(ciphertext.strip().encode("ascii")).decode("utf-8")
    except (InvalidToken, ValueError):
        raise DecryptionError(
            "the text cannot be decrypted with this user's key: it was made with another key "
            "(a later rotation replaced it, or the old key's deletion removed it) or was damaged"
        ) from None
