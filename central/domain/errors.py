"""Typed failures, one per domain. Messages name the account and user, never a secret."""

from __future__ import annotations

from central.domain.redaction import scrub


class IkrError(Exception):
    """Base of every failure ikr raises on purpose. Its text is scrubbed of the run's secrets: it
    often quotes outside text (a relay's reply, an AWS message) and ends up in logs and reports."""

    def __init__(self, *args: object) -> None:
        super().__init__(*(scrub(arg) if isinstance(arg, str) else arg for arg in args))


class SettingsError(IkrError):
    """The environment does not hold a usable configuration (exit code 2)."""


class UsageError(IkrError):
    """A command was called with input it cannot use (exit code 2)."""


class AccountError(IkrError):
    """Work in one account failed; the run goes on with the others."""

    def __init__(self, account_id: str, message: str) -> None:
        super().__init__(f"account {account_id}: {message}")
        self.account_id = account_id


class AccountAccessError(AccountError):
    """ikr could not get into the account (AssumeRole refused, role missing)."""


class DeliveryError(IkrError):
    """A mail (or key pair) could not be handed over: the server said no before accepting it."""


class DeliveryUncertain(DeliveryError):
    """The request was sent but its answer was lost or was a server error (SMTP connection dropped
    after DATA, a time-out or a 5xx from SES or Mailgun, a lost answer from a secret store): the
    message may have been accepted, so a person may already hold the key. Counts as delivered for
    every deletion decision; a retry sends the same key again, never a new one."""


class DeliveryRefused(DeliveryError):
    """The target refused the key for a reason only a person can mend (its policy, its KMS key, its
    type or its state): nothing was written. Trying again within minutes would make and remove a key
    each time for nothing, so the user waits for the daily run, by when someone may have fixed it."""


class MailQuotaExceeded(DeliveryError):
    """The mail system refused the mail because its daily quota is used up (SES: "Daily message quota
    exceeded"): no mail goes before the quota refills, so the rest of the run's mail is postponed
    rather than tried again."""


class SecretStoreError(IkrError):
    """The per-user encryption key could not be read or written."""


class InvalidItemError(IkrError):
    """An expiry table item or stream record lacks what ikr needs to act on it."""


def aws_reason(exc: Exception) -> str:
    """An AWS failure in one line: the error code and AWS's message, scrubbed of the run's secrets
    (a validation message can echo the value that was sent)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        error = response["Error"]
        return scrub(f"{error.get('Code', 'Error')}: {error.get('Message', '')}".rstrip(": "))
    return scrub(f"{type(exc).__name__}: {exc}")
