"""Where a user's new key goes (`IKR:DELIVERY`) and whether its use is verified (`IKR:VERIFY_USE`).

Pure: tag values in, a target or a problem out. `mail` (the default) mails the pair to the
`IKR:EMAIL` address; `secretsmanager:<name>` and `ssm:<name>` write it, as JSON, into a Secrets
Manager secret or a SecureString parameter of the user's own account, for machines to read. A
target must lie under DELIVERY_PREFIX (`ikr/` for secret names, `/ikr/` for parameter names), so
the member role can be limited to it, and never under `/ikr/secret/`, where ikr keeps its own keys.
"""

from __future__ import annotations

import re
from enum import StrEnum

from central.domain.model import Frozen
from central.domain.tags import DELIVERY

DEFAULT_PREFIX = "ikr/"
RESERVED_PARAMETERS = "/ikr/secret/"  # the users' Fernet keys and pending pairs live here

# The characters and lengths AWS allows in a secret name and a parameter name.
_SECRET_NAME = re.compile(r"[A-Za-z0-9/_+=.@-]{1,512}", re.ASCII)
_PARAMETER_NAME = re.compile(r"/[A-Za-z0-9_.\-/]{1,1010}", re.ASCII)
# SSM's API reference: "Parameter hierarchies are limited to a maximum depth of fifteen levels", and
# of the 2,048 characters it reports for a name, a name one creates may have 1,011, counting the ARN
# before it (`arn:aws:ssm:us-east-2:111122223333:parameter`). The region and partition are not known
# when a tag is read, so room is kept for the longest such ARN: `arn:` + partition (10) + `:ssm:` +
# region (20) + `:` + account (12) + `:parameter`.
MAX_PARAMETER_LEVELS = 15
_LONGEST_PARAMETER_ARN = len("arn:") + 10 + len(":ssm:") + 20 + 1 + 12 + len(":parameter")
MAX_PARAMETER_NAME = 1011 - _LONGEST_PARAMETER_ARN
_RESERVED_FIRST_LEVELS = ("aws", "ssm")  # "A parameter name can't be prefixed with aws or ssm"
_CROSS_ACCOUNT = (
    "ikr writes the key into the user's own account, by name; a secret or parameter of another account "
    "would need a resource policy and a KMS key grant for the member role, which ikr does not manage"
)


class Via(StrEnum):
    MAIL = "mail"
    SECRETS_MANAGER = "secretsmanager"
    SSM = "ssm"


class Delivery(Frozen):
    via: Via = Via.MAIL
    name: str | None = None  # the secret or parameter name; None for mail

    @property
    def to_store(self) -> bool:
        return self.via is not Via.MAIL

    def __str__(self) -> str:
        return self.via.value if self.name is None else f"{self.via.value}:{self.name}"

    @property
    def where(self) -> str:
        """Where the key is, in words for a mail or a report."""
        if self.via is Via.SECRETS_MANAGER:
            return f"Secrets Manager secret {self.name}"
        if self.via is Via.SSM:
            return f"SSM SecureString parameter {self.name}"
        return "mail"


MAIL = Delivery()


def recorded_delivery(text: str | None) -> Delivery:
    """The target an expiry item recorded (`str(Delivery)`), trusted: it was checked when decided."""
    if not text:
        return MAIL
    via, _, name = text.partition(":")
    return Delivery(via=Via(via), name=name or None)


class DeliveryProblem(ValueError):
    """An IKR:DELIVERY value ikr cannot use."""


def parse_delivery(value: str, prefix: str = DEFAULT_PREFIX) -> Delivery:
    """`mail`, `secretsmanager:<name>` or `ssm:<name>` (the kind in any case), checked against the prefix."""
    kind, sep, name = value.partition(":")
    via = kind.strip().lower()
    if via == Via.MAIL and not sep:
        return MAIL
    if not sep or via not in (Via.SECRETS_MANAGER, Via.SSM):
        raise DeliveryProblem(f"{DELIVERY}={value!r} is not mail, secretsmanager:<secret name> or ssm:<parameter name>")
    if name.startswith("arn:"):
        raise DeliveryProblem(f"{DELIVERY}={value!r}: an ARN is not accepted: {_CROSS_ACCOUNT}")
    if via == Via.SECRETS_MANAGER:
        if not _SECRET_NAME.fullmatch(name):
            raise DeliveryProblem(f"{DELIVERY}={value!r}: {name!r} is not a valid Secrets Manager secret name")
        if not name.startswith(prefix):
            raise DeliveryProblem(f"{DELIVERY}={value!r}: the secret name must start with {prefix!r}")
        return Delivery(via=Via.SECRETS_MANAGER, name=name)
    parameter_prefix = "/" + prefix
    if not _PARAMETER_NAME.fullmatch(name) or "//" in name or name.endswith("/"):
        raise DeliveryProblem(f"{DELIVERY}={value!r}: {name!r} is not a valid SSM parameter name")
    if not name.startswith(parameter_prefix):
        raise DeliveryProblem(f"{DELIVERY}={value!r}: the parameter name must start with {parameter_prefix!r}")
    if name.startswith(RESERVED_PARAMETERS):
        raise DeliveryProblem(f"{DELIVERY}={value!r}: {RESERVED_PARAMETERS} is where ikr keeps its own keys")
    _check_parameter_limits(value, name)
    return Delivery(via=Via.SSM, name=name)


def _check_parameter_limits(value: str, name: str) -> None:
    """What SSM would refuse at PutParameter, said when the tag is read."""
    levels = name.count("/")
    if levels > MAX_PARAMETER_LEVELS:
        raise DeliveryProblem(
            f"{DELIVERY}={value!r}: the parameter name has {levels} levels; SSM allows {MAX_PARAMETER_LEVELS}"
        )
    if len(name) > MAX_PARAMETER_NAME:
        raise DeliveryProblem(
            f"{DELIVERY}={value!r}: the parameter name has {len(name)} characters; SSM allows "
            f"{MAX_PARAMETER_NAME} here (1,011 with the parameter's ARN)"
        )
    first = name.split("/")[1].lower()
    if first.startswith(_RESERVED_FIRST_LEVELS):
        raise DeliveryProblem(f"{DELIVERY}={value!r}: SSM reserves parameter names that start with aws or ssm")


def verify_use_default(delivery: Delivery) -> bool:
    """A machine reads its key from a store, so ikr checks it switched; a person got a mail."""
    return delivery.to_store
