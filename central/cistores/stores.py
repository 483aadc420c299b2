"""The CI targets of one run: the APIs' base URLs and their tokens, each token read from its Secrets
Manager secret once per run (at the first delivery that needs it, so a run without CI targets reads
none), shared by the accounts the run works at once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import SecretStr

from central.aws.central_secrets import CentralSecrets
from central.aws.errors import AwsError
from central.aws.sessions import Session
from central.cistores.target import Target
from central.domain.delivery import Delivery, Via
from central.domain.errors import DeliveryError
from central.settings import Settings

if TYPE_CHECKING:
    from central.cistores.github_app import GitHubApp

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
    github_app: GitHubApp | None = None  # GITHUB_APP_ID: an installation token per repository

    def write(self, delivery: Delivery, key_id: str, secret: SecretStr, who: str) -> str:
        """Write the pair; the version for the owner's notice. DeliveryError if refused, DeliveryUncertain
        if it may have been written."""
        # The HTTP clients (requests, and PyNaCl for GitHub's sealed boxes) load at the first CI
        # delivery: a Lambda cold start of a run without CI targets never pays for them.
        from central.cistores.github import GitHubSecrets  # noqa: PLC0415
        from central.cistores.gitlab import GitLabVariables  # noqa: PLC0415

        if delivery.via is Via.GITHUB and self.github_app is not None:
            assert delivery.name is not None
            owner, repo, *_ = delivery.name.split("/")
            target = Target(who, delivery.where, "GitHub", self.github_app.key_from, "Actions secrets")
            installation_token = self.github_app.token_for(owner, repo, target)
            secrets = GitHubSecrets(self.github_url, installation_token, f"GitHub App {self.github_app.key_from}")
            return secrets.write(delivery, key_id, secret, who)
        token = self.tokens.get(delivery.via)
        if token is None:
            raise _refused(who, delivery, f"{_SETTINGS[delivery.via]} is not set: ikr has no token for it")
        value = token.get()
        if isinstance(value, str):
            raise _refused(who, delivery, f"the token in {_SETTINGS[delivery.via]} could not be read: {value}")
        token_from = f"secret {token.secret_name} ({_SETTINGS[delivery.via]})"
        if delivery.via is Via.GITHUB:
            return GitHubSecrets(self.github_url, value, token_from).write(delivery, key_id, secret, who)
        return GitLabVariables(self.gitlab_url, value, token_from).write(delivery, key_id, secret, who)


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
    app = None
    if settings.GITHUB_APP_ID and settings.GITHUB_APP_PRIVATE_KEY_SECRET_NAME:
        from central.cistores.github_app import GitHubApp  # noqa: PLC0415 - as in CiStores.write

        key = Token(settings.GITHUB_APP_PRIVATE_KEY_SECRET_NAME, secrets.secret)
        key_from = f"secret {key.secret_name} (GITHUB_APP_PRIVATE_KEY_SECRET_NAME)"
        app = GitHubApp(settings.GITHUB_API_URL, settings.GITHUB_APP_ID, key.get, key_from)
    return CiStores(settings.GITHUB_API_URL, settings.GITLAB_API_URL, tokens, app)
