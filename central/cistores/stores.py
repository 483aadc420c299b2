"""The CI targets of one run: the APIs' base URLs and their tokens, each token read from its Secrets
Manager secret once per run (at the first delivery that needs it, so a run without CI targets reads
none), shared by the accounts the run works at once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import SecretStr

from central.aws.central_secrets import CentralSecrets
from central.aws.errors import AwsError
from central.aws.sessions import Session
from central.cistores.github import GitHubSecrets
from central.cistores.gitlab import GitLabVariables
from central.cistores.http import Target
from central.domain.delivery import Delivery, Via
from central.domain.errors import DeliveryError
from central.settings import Settings

_SETTINGS = {Via.GITHUB: "GITHUB_TOKEN_SECRET_NAME", Via.GITLAB: "GITLAB_TOKEN_SECRET_NAME"}


class Token:
    """A token named by a setting, read at most once; a failed read is kept too, so a run with many
    users asks once and every one of them is refused with the same reason."""

    def __init__(self, secret_name: str, read: Callable[[str], SecretStr]) -> None:
        self.secret_name = secret_name
        self._read = read
        self._lock = threading.Lock()
        self._value: SecretStr | None = None
        self._failure = ""

    def get(self) -> SecretStr | str:
        """The token, or why it could not be read."""
        with self._lock:
            if self._value is None and not self._failure:
                try:
                    self._value = self._read(self.secret_name)
                    if not self._value.get_secret_value():
                        self._value, self._failure = None, f"secret {self.secret_name} is empty"
                except AwsError as exc:
                    self._failure = str(exc)
            return self._value if self._value is not None else self._failure


@dataclass
class CiStores:
    github_url: str = "https://api.github.com"
    gitlab_url: str = "https://gitlab.com/api/v4"
    tokens: dict[Via, Token] = field(default_factory=dict)

    def write(self, delivery: Delivery, key_id: str, secret: SecretStr, who: str) -> str:
        """Write the pair; the version for the owner's notice. DeliveryError if refused, DeliveryUncertain
        if it may have been written."""
        token = self.tokens.get(delivery.via)
        if token is None:
            raise _refused(who, delivery, f"{_SETTINGS[delivery.via]} is not set: ikr has no token for it")
        value = token.get()
        if isinstance(value, str):
            raise _refused(who, delivery, f"the token in {_SETTINGS[delivery.via]} could not be read: {value}")
        if delivery.via is Via.GITHUB:
            return GitHubSecrets(self.github_url, value, token.secret_name).write(delivery, key_id, secret, who)
        return GitLabVariables(self.gitlab_url, value, token.secret_name).write(delivery, key_id, secret, who)


def _refused(who: str, delivery: Delivery, reason: str) -> DeliveryError:
    return Target(who, delivery.where, "", "", "").refused(reason)


def build_ci_stores(settings: Settings, central: Session) -> CiStores:
    secrets = CentralSecrets(central)
    tokens = {
        via: Token(name, secrets.secret)
        for via, name in (
            (Via.GITHUB, settings.GITHUB_TOKEN_SECRET_NAME),
            (Via.GITLAB, settings.GITLAB_TOKEN_SECRET_NAME),
        )
        if name
    }
    return CiStores(settings.GITHUB_API_URL, settings.GITLAB_API_URL, tokens)
