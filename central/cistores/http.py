"""One request to a CI system's API, and what its failure means for the delivery.

The outcomes are those of every store target (`central.rotation.deliver`):
- refused (`DeliveryError`): the request was answered with a 4xx, or never reached the server, or was
  a read (nothing is written by a read); nothing of the pair was written;
- uncertain (`DeliveryUncertain`): a write was sent and its answer was lost (time-out, connection reset)
  or was a 5xx, or one of the pair's two names was written before the other failed: the pair there may
  be new or mixed, so the key is kept and the next run writes both again.
A message names the target and the reason in ikr's words: never the API's body, which can echo a value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests
from pydantic import SecretStr
from urllib3.exceptions import MaxRetryError, NewConnectionError

from central.cistores.target import Target
from central.domain.delivery import Delivery

TIMEOUT_SECONDS = (5.0, 30.0)  # connect, read: a write waits for its answer longer than for a connection

# 4xx statuses in ikr's words; `{thing}` is what the request was about (a repository, a project).
_REFUSALS = {
    400: "{api} refused the request as invalid (400)",
    401: "{api} refused the token (401): it is revoked, expired or mistyped; put a valid one in {secret}",
    403: "the token may not do this (403): it lacks the permission to write {kind}, or {api} limited its rate",
    404: "not found (404): {thing} does not exist, or the token cannot see it",
    422: "{api} refused the request (422): the value or the target is not accepted",
    429: "{api} limited the token's rate (429); the next run tries again",
}


class CiApi:
    """One CI system's API: its base URL and token, and how messages name it."""

    api = ""  # "GitHub"
    kind = ""  # what it keeps: "Actions secrets"

    def __init__(self, api_url: str, token: SecretStr, token_from: str) -> None:
        self._api = api_url.rstrip("/")
        self._token = token
        self._token_from = token_from  # where the token comes from, for a message: "secret x (SETTING)"

    def target(self, who: str, delivery: Delivery) -> Target:
        return Target(who, delivery.where, self.api, self._token_from, self.kind)


# A request time-out and a rate limit mend within minutes; every other 4xx waits for a person.
_TRANSIENT = frozenset({408, 429})


def status_reason(target: Target, status: int, thing: str) -> str:
    template = _REFUSALS.get(status, "{api} answered {status}")
    return template.format(api=target.api, secret=target.secret, kind=target.kind, thing=thing, status=status)


def _never_sent(exc: requests.RequestException) -> bool:
    """The connection was never made (refused, no route, name unknown, connect time-out)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return isinstance(reason, NewConnectionError)


def send(
    target: Target,
    method: str,
    url: str,
    headers: Mapping[str, str],
    *,
    thing: str,
    written: str = "",
    body: Mapping[str, Any] | None = None,
    accept: tuple[int, ...] = (),
    writes: bool | None = None,
) -> requests.Response:
    """The response when it is a 2xx or one of `accept`; otherwise the delivery's outcome, raised.
    `written`: the name already written by this delivery ("" for none), which makes any failure uncertain."""
    writes = method != "GET" if writes is None else writes  # a POST for a token writes none of the pair
    try:
        response = requests.request(method, url, headers=dict(headers), json=body, timeout=TIMEOUT_SECONDS)
    except requests.RequestException as exc:
        failure = type(exc).__name__
        if written:
            raise target.uncertain(f"{written} was written, then the next request failed ({failure})") from None
        if _never_sent(exc):
            raise target.refused(f"{target.api} could not be reached at {_origin(url)} ({failure})", False) from None
        if not writes:
            raise target.refused(
                f"{target.api} did not answer a read ({failure}); nothing was written", False
            ) from None
        raise target.uncertain(f"the answer was lost ({failure})") from None
    status = response.status_code
    if 200 <= status < 300 or status in accept:
        return response
    if written:
        reason = status_reason(target, status, thing)
        raise target.uncertain(f"{written} was written, then {reason}; the pair there may be mixed")
    if status >= 500 and writes:
        raise target.uncertain(f"{target.api} answered {status} after the request was taken")
    if status >= 500:
        raise target.refused(f"{target.api} answered {status} to a read; nothing was written", False)
    raise target.refused(status_reason(target, status, thing), needs_person=status not in _TRANSIENT)


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"
