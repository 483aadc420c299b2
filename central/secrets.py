"""Per-user Fernet keys kept as SecureStrings at /ikr/secret/iam/<USERNAME> in the owning account."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from central import crypto
from central.errors import SecretStoreError

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

PATH = "/ikr/secret/iam/"


def parameter_name(user_name: str) -> str:
    return f"{PATH}{user_name}"


class UserKeyStore:
    def __init__(self, ssm: SSMClient, account_id: str) -> None:
        self._ssm = ssm
        self._account_id = account_id

    def get(self, user_name: str) -> str | None:
        try:
            return self._ssm.get_parameter(Name=parameter_name(user_name), WithDecryption=True)["Parameter"]["Value"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ParameterNotFound":
                return None
            raise self._error("read", user_name, exc) from None

    def get_or_create(self, user_name: str) -> str:
        """The user's key, made on first use; a key made concurrently by someone else wins."""
        existing = self.get(user_name)
        if existing is not None:
            return existing
        try:
            self._ssm.put_parameter(
                Name=parameter_name(user_name),
                Value=crypto.new_key(),
                Type="SecureString",
                Description=f"ikr: key that encrypts the access keys mailed to IAM user {user_name}",
                Overwrite=False,
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ParameterAlreadyExists":
                raise self._error("create", user_name, exc) from None
        created = self.get(user_name)
        if created is None:
            raise SecretStoreError(f"account {self._account_id} user {user_name}: key vanished after creation")
        return created

    def delete(self, user_name: str) -> bool:
        """Remove the user's key; False when there was none."""
        try:
            self._ssm.delete_parameter(Name=parameter_name(user_name))
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ParameterNotFound":
                return False
            raise self._error("delete", user_name, exc) from None
        return True

    def _error(self, verb: str, user_name: str, exc: ClientError) -> SecretStoreError:
        error = exc.response["Error"]
        return SecretStoreError(
            f"account {self._account_id} user {user_name}: cannot {verb} SSM parameter "
            f"{parameter_name(user_name)}: {error['Code']}: {error.get('Message', '')}"
        )
