"""GitHub Actions secrets: a repository's, or an environment's when the target names one.

GitHub takes a secret only sealed with the repository's (or environment's) public key: a libsodium
sealed box (PyNaCl), which only GitHub's private half opens. Per delivery: one read of the public key,
then one PUT per name (201 created, 204 updated); the key id first, so a failure between the two
leaves the old secret with a new id, which the uncertain outcome repairs on the next run.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import quote

from nacl.public import PublicKey, SealedBox
from pydantic import SecretStr

from central.cistores.http import CiApi, send
from central.domain.delivery import Delivery

API_VERSION = "2022-11-28"  # GitHub's REST API version header


def seal(public_key: bytes, value: str) -> str:
    """`value` sealed for the holder of `public_key`'s private half, base64 as GitHub wants it."""
    return base64.b64encode(SealedBox(PublicKey(public_key)).encrypt(value.encode("utf-8"))).decode("ascii")


class GitHubSecrets(CiApi):
    api, kind = "GitHub", "Actions secrets"

    def write(self, delivery: Delivery, key_id: str, secret: SecretStr, who: str) -> str:
        """Both secrets written; what the owner's notice calls the version (the public key's id)."""
        assert delivery.name is not None
        owner, repo, *environment = delivery.name.split("/")
        base = f"{self._api}/repos/{quote(owner)}/{quote(repo)}"
        if environment:
            base += f"/environments/{quote(environment[0], safe='')}/secrets"
            thing = f"environment {environment[0]} of repository {owner}/{repo}"
        else:
            base += "/actions/secrets"
            thing = f"repository {owner}/{repo}"
        target = self.target(who, delivery)
        headers = {
            "Authorization": f"Bearer {self._token.get_secret_value()}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
        }
        answer = send(target, "GET", f"{base}/public-key", headers, thing=thing).json()
        public_id, public_key = _public_key(answer)
        if public_key is None:
            raise target.refused("GitHub answered without a usable public key; nothing was written")
        written = ""
        for name, value in zip(delivery.secret_names, (key_id, secret.get_secret_value()), strict=True):
            body = {"encrypted_value": seal(public_key, value), "key_id": public_id}
            send(target, "PUT", f"{base}/{name}", headers, thing=thing, written=written, body=body)
            written = name
        return f"sealed with GitHub public key {public_id}"


def _public_key(answer: object) -> tuple[str, bytes | None]:
    """GitHub's `{"key_id": ..., "key": <base64 of 32 bytes>}`; None for anything else."""
    if not isinstance(answer, dict):
        return "", None
    key_id, key = answer.get("key_id"), answer.get("key")
    if not isinstance(key_id, str) or not key_id or not isinstance(key, str):
        return "", None
    try:
        raw = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        return "", None
    return (key_id, raw) if len(raw) == PublicKey.SIZE else ("", None)
