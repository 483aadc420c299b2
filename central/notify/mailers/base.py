"""One interface for every mail back end: hand over a message, or raise DeliveryError.

The boundary is enforced here for every Mailer subclass, so callers (key mails, courtesy mails,
admin notices) need to catch DeliveryError alone:
- the recipient is sent in its ASCII form: an internationalized domain as IDNA (punycode); a
  local part that is not ASCII is refused (SES and plain SMTP cannot carry it);
- anything else a back end raises becomes DeliveryUncertain: ikr cannot tell whether the mail
  left, so it is treated as possibly delivered (never a reason to delete a key);
- every DeliveryError text is scrubbed of the run's secrets (central.domain.errors.IkrError does it).
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from email_validator import EmailNotValidError, validate_email
from pydantic import Field, SecretStr

from central.aws.errors import AwsError
from central.domain.errors import DeliveryError, DeliveryUncertain
from central.domain.model import Frozen

_MAX_UNEXPECTED = 200  # characters of an unexpected exception's text kept in the DeliveryError


class Mail(Frozen):
    to: str
    subject: str
    # The bodies may carry a plain secret access key: keep them out of any repr or traceback.
    text: str = Field(repr=False)
    html: str = Field(repr=False)


def ascii_address(address: str) -> str:
    """The address as every mail system carries it: the domain in IDNA form. A local part that
    is not ASCII would need SMTPUTF8, which SES and most relays do not offer: DeliveryError."""
    if address.isascii():
        return address
    try:
        return validate_email(address, check_deliverability=False, allow_smtputf8=False).ascii_email or address
    except EmailNotValidError as exc:
        raise DeliveryError(f"cannot send to {address!r}: {exc}") from None


SendMethod = Callable[[Any, Mail], None]


def _guarded(send: SendMethod) -> SendMethod:
    @functools.wraps(send)
    def guarded(self: Mailer, mail: Mail) -> None:
        ascii_to = ascii_address(mail.to)
        try:
            send(self, mail if ascii_to == mail.to else mail.model_copy(update={"to": ascii_to}))
        except DeliveryError:
            raise
        except Exception as exc:  # the boundary: no mail may crash the work
            text = str(exc)[:_MAX_UNEXPECTED]
            raise DeliveryUncertain(
                f"{self.name} mailer failed unexpectedly on the mail to {ascii_to} ({type(exc).__name__}: {text}); "
                "it may have been sent"
            ) from None

    guarded._ikr_guarded = True  # type: ignore[attr-defined]
    return guarded


class Mailer(ABC):
    name: str

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        send = cls.__dict__.get("send")
        if send is not None and not getattr(send, "_ikr_guarded", False):
            cls.send = _guarded(send)  # type: ignore[method-assign,assignment]

    def postponed(self) -> str | None:
        """Why mail is postponed for the rest of the run (a used-up daily quota), or None while it goes
        out; `central.notify.mailers.quota.QuotaGuard` says so, a bare mailer never does."""
        return None

    @abstractmethod
    def send(self, mail: Mail) -> None:
        """Hand the mail to the mail system. Raise DeliveryError (never with a secret) when it was
        refused before it was accepted, DeliveryUncertain when it may have been accepted."""


def read_secret_parameter(read: Callable[[str], SecretStr], parameter: str, purpose: str) -> SecretStr:
    """A secret the central account keeps in SSM (SMTP password, Mailgun key, webhook URL), read with
    `read` (`central.aws.parameters.CentralParameters.secret`); a failure is the delivery's refusal."""
    try:
        return read(parameter)
    except AwsError as exc:
        raise DeliveryError(f"cannot read the {purpose} from SSM parameter {parameter}: {exc.code}") from None
