"""A GitHub App instead of a token: the app's id and private key (a Secrets Manager secret of the
central account) make a JWT (RS256, ten minutes at most, as GitHub requires), which asks for the
app's installation on the repository and an installation access token (an hour), kept for the run
and renewed five minutes before it ends. The JWT is timed by the real clock, never ikr's planning
clock (`--now`): GitHub checks it against its own.

Nothing of the pair is written on the way: every failure here is a refusal, naming what to fix (the
app is not installed on the repository, the key is not the app's).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from datetime import datetime
from urllib.parse import quote

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pydantic import SecretStr

from central.cistores.http import send
from central.cistores.target import Target
from central.domain.redaction import remember

API_VERSION = "2022-11-28"
_RENEW_BEFORE = 300  # seconds: a token that ends sooner is renewed


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def app_jwt(private_key_pem: str, app_id: str, now: float) -> str:
    """The app's JWT: issued a minute back (clock drift), ending nine minutes on (GitHub takes ten at most)."""
    key = serialization.load_pem_private_key(private_key_pem.encode("utf-8"), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    header = _b64url(json.dumps({"alg": "RS256", "typ": "JWT"}, separators=(",", ":")).encode())
    claims = {"iat": int(now) - 60, "exp": int(now) + 540, "iss": app_id}
    payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    signature = key.sign(f"{header}.{payload}".encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{header}.{payload}.{_b64url(signature)}"


class GitHubApp:
    def __init__(
        self,
        api_url: str,
        app_id: str,
        private_key: Callable[[], SecretStr | str],
        key_from: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._api = api_url.rstrip("/")
        self._app_id = app_id
        self._private_key = private_key  # the PEM, or why it could not be read
        self.key_from = key_from  # "secret x (GITHUB_APP_PRIVATE_KEY_SECRET_NAME)"
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[SecretStr, float]] = {}  # owner/repo -> (token, ends at)

    def token_for(self, owner: str, repo: str, target: Target) -> SecretStr:
        """An installation token that may write the repository's secrets; DeliveryError if none."""
        with self._lock:
            kept = self._tokens.get(f"{owner}/{repo}")
            if kept is not None and kept[1] - self._clock() > _RENEW_BEFORE:
                return kept[0]
            token, ends = self._new_token(owner, repo, target)
            self._tokens[f"{owner}/{repo}"] = (token, ends)
            return token

    def _new_token(self, owner: str, repo: str, target: Target) -> tuple[SecretStr, float]:
        pem = self._private_key()
        if isinstance(pem, str):
            raise target.refused(f"the GitHub App's private key in {self.key_from} could not be read: {pem}")
        try:
            jwt = app_jwt(pem.get_secret_value(), self._app_id, self._clock())
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise target.refused(
                f"the GitHub App's private key in {self.key_from} is not an RSA key in PEM form"
            ) from None
        remember(jwt)  # a credential for nine minutes: scrubbed like any other
        headers = {
            "Authorization": f"Bearer {jwt}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
        }
        thing = f"an installation of GitHub App {self._app_id} on repository {owner}/{repo}"
        installation = send(
            target, "GET", f"{self._api}/repos/{quote(owner)}/{quote(repo)}/installation", headers, thing=thing
        ).json()
        installation_id = installation.get("id") if isinstance(installation, dict) else None
        if not isinstance(installation_id, int):
            raise target.refused("GitHub answered without the app's installation id; nothing was written")
        url = f"{self._api}/app/installations/{installation_id}/access_tokens"
        answer = send(target, "POST", url, headers, thing=thing, writes=False).json()
        token = answer.get("token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise target.refused("GitHub answered without an installation token; nothing was written")
        remember(token)
        return SecretStr(token), _ends(answer.get("expires_at"), self._clock())


def _ends(expires_at: object, now: float) -> float:
    """When the token ends (epoch seconds); an hour from now, GitHub's term, if the answer does not say."""
    if isinstance(expires_at, str):
        try:
            return datetime.fromisoformat(expires_at.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    return now + 3600
