"""Where a user's new key goes (`IKR:DELIVERY`) and whether its use is verified (`IKR:VERIFY_USE`).

Pure: tag values in, a target or a problem out. `mail` (the default) mails the pair to the
`IKR:EMAIL` address; `secretsmanager:<name>` and `ssm:<name>` write it, as JSON, into a Secrets
Manager secret or a SecureString parameter of the user's own account, for machines to read. A
target must lie under DELIVERY_PREFIX (`ikr/` for secret names, `/ikr/` for parameter names), so
the member role can be limited to it, and never under `/ikr/secret/`, where ikr keeps its own keys.
`github:<owner>/<repo>[/<environment>]` and `gitlab:<project>` write it as two CI secrets or variables
(`central.domain.ci_targets`), named by `IKR:SECRET_NAMES` or the defaults.
"""

from __future__ import annotations

import re
from enum import StrEnum

from central.domain import ci_targets
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
    GITHUB = "github"
    GITLAB = "gitlab"


_CI = (Via.GITHUB, Via.GITLAB)
_NAMES_MARK = "#"  # in the recorded target: `github:o/r#ID_NAME,SECRET_NAME` (a `#` is in no name or path)


class Delivery(Frozen):
    via: Via = Via.MAIL
    name: str | None = None  # the secret or parameter name, the repository or project; None for mail
    names: tuple[str, str] | None = None  # IKR:SECRET_NAMES of a CI target; None: the defaults

    @property
    def to_store(self) -> bool:
        return self.via is not Via.MAIL

    @property
    def to_ci(self) -> bool:
        """Written by the CI adapters (central.cistores) rather than into the user's AWS account."""
        return self.via in _CI

    @property
    def secret_names(self) -> tuple[str, str]:
        """The names the key id and the secret access key are written under (CI targets)."""
        return self.names or ci_targets.DEFAULT_NAMES

    def __str__(self) -> str:
        text = self.via.value if self.name is None else f"{self.via.value}:{self.name}"
        return text if self.names is None else f"{text}{_NAMES_MARK}{','.join(self.names)}"

    @property
    def where(self) -> str:
        """Where the key is, in words for a mail or a report."""
        if self.via is Via.SECRETS_MANAGER:
            return f"Secrets Manager secret {self.name}"
        if self.via is Via.SSM:
            return f"SSM SecureString parameter {self.name}"
        if self.via is Via.GITHUB:
            assert self.name is not None
            owner, repo, *environment = self.name.split("/")
            scope = (
                f"environment {environment[0]} of repository {owner}/{repo}"
                if environment
                else f"repository {self.name}"
            )
            return f"GitHub Actions secrets {' and '.join(self.secret_names)} of {scope}"
        if self.via is Via.GITLAB:
            return f"GitLab CI/CD variables {' and '.join(self.secret_names)} of project {self.name}"
        return "mail"


MAIL = Delivery()


def recorded_delivery(text: str | None) -> Delivery:
    """The target an expiry item recorded (`str(Delivery)`), trusted: it was checked when decided."""
    if not text:
        return MAIL
    text, _, names = text.partition(_NAMES_MARK)
    via, _, name = text.partition(":")
    first, _, second = names.partition(",")
    return Delivery(via=Via(via), name=name or None, names=(first, second) if names else None)


class DeliveryProblem(ValueError):
    """An IKR:DELIVERY value ikr cannot use."""


def parse_delivery(value: str, prefix: str = DEFAULT_PREFIX, names: tuple[str, str] | None = None) -> Delivery:
    """`mail`, `secretsmanager:<name>` or `ssm:<name>` (the kind in any case), checked against the prefix;
    or a CI target, with the secret names `names` (IKR:SECRET_NAMES, checked by the caller)."""
    kind, sep, name = value.partition(":")
    via = kind.strip().lower()
    if via == Via.MAIL and not sep:
        return MAIL
    if sep and via in _CI:
        return _ci_delivery(value, Via(via), name, names)
    if not sep or via not in (Via.SECRETS_MANAGER, Via.SSM):
        raise DeliveryProblem(
            f"{DELIVERY}={value!r} is not mail, secretsmanager:<secret name> or ssm:<parameter name>; nor "
            "github:<owner>/<repository>[/<environment>] or gitlab:<project path or id>"
        )
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


def _ci_delivery(value: str, via: Via, name: str, names: tuple[str, str] | None) -> Delivery:
    try:
        target = ci_targets.github_target(name) if via is Via.GITHUB else ci_targets.gitlab_target(name)
    except ci_targets.CiTargetProblem as exc:
        raise DeliveryProblem(f"{DELIVERY}={value!r}: {exc}") from None
    return Delivery(via=via, name=target, names=names)


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
