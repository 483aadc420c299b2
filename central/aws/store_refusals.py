"""Why SSM or Secrets Manager refused to take a new key pair, in words the owner of the target can act on.

The answers AWS gives and moto does not (docs/ARCHITECTURE.md, "AWS as it really fails"):
- SSM never changes a parameter's type: overwriting a `String` parameter as `SecureString` fails
  with `HierarchyTypeMismatchException` (`ParameterAlreadyExists` where the overwrite is not allowed);
- Secrets Manager refuses a new version of a secret scheduled for deletion (`InvalidRequestException`,
  "marked for deletion");
- a customer managed KMS key that the member role may not use fails the write (`AccessDeniedException`,
  or Secrets Manager's `EncryptionFailure` / `DecryptionFailure`, SSM's `InvalidKeyId`).

AWS's message is read only to tell the kinds of `InvalidRequestException` apart and never repeated:
it may echo the value written.
"""

from __future__ import annotations

from central.domain.delivery import Delivery, Via

_TYPE_CODES = frozenset({"HierarchyTypeMismatchException", "ParameterAlreadyExists"})
_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException"})
_KMS_CODES = frozenset(
    {
        "EncryptionFailure",
        "DecryptionFailure",
        "InvalidKeyId",
        "KMSAccessDeniedException",
        "KMSDisabledException",
        "KMSInvalidStateException",
        "KMSNotFoundException",
    }
)
_DELETION_WORDS = ("marked for deletion", "scheduled for deletion")
_KMS_GRANT = (
    "its KMS key must be enabled, and a customer managed key's policy (or a grant) must allow the member role "
    "kms:GenerateDataKey and kms:Decrypt"
)


def refusal(delivery: Delivery, code: str, message: str) -> str:
    """`code`, with what it means for this target and what to do, where ikr knows."""
    advice = _advice(delivery, code, message.lower())
    return f"{code} ({advice})" if advice else code


def _advice(delivery: Delivery, code: str, message: str) -> str:
    name = delivery.name or ""
    if code in _KMS_CODES:
        return f"the store cannot encrypt with the target's KMS key: {_KMS_GRANT}"
    if delivery.via is Via.SSM:
        return _ssm_advice(name, code)
    return _secret_advice(name, code, message)


def _secret_advice(name: str, code: str, message: str) -> str:
    if code == "InvalidRequestException" and any(words in message for words in _DELETION_WORDS):
        return (
            "the secret is scheduled for deletion and takes no new value: restore it with "
            f"`aws secretsmanager restore-secret --secret-id {name}`, or name another secret in IKR:DELIVERY"
        )
    if code in _DENIED_CODES:
        return (
            "the member role may not write this secret: it must lie under DELIVERY_PREFIX in the user's own "
            f"account, and if it is encrypted with a customer managed key, {_KMS_GRANT}"
        )
    if code in ("LimitExceededException", "ServiceQuotaExceededException"):
        return "a Secrets Manager quota of the account is full (secrets, or versions of this secret)"
    if code == "ResourceExistsException":
        return "the secret appeared while ikr created it; the next run writes a new version"
    return ""


def _ssm_advice(name: str, code: str) -> str:
    if code in _TYPE_CODES:
        return (
            "the parameter exists as a String or StringList, and SSM never changes a parameter's type: delete "
            f"it with `aws ssm delete-parameter --name {name}`, or name another parameter in IKR:DELIVERY"
        )
    if code in _DENIED_CODES:
        return (
            "the member role may not write this parameter: it must lie under /DELIVERY_PREFIX, and if it is "
            f"encrypted with a customer managed key, {_KMS_GRANT}"
        )
    if code == "ParameterLimitExceeded":
        return "the account holds as many parameters as SSM allows: delete unused ones or deliver to a secret"
    if code == "ParameterMaxVersionLimitExceeded":
        return "the parameter has 100 versions and the oldest carries a label: remove the label or the version"
    if code in ("ValidationException", "ValidationError"):
        return "SSM refused the parameter's name: at most 15 levels and 1,011 characters with its ARN"
    return ""
