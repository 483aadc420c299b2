"""Local stand-ins of the two CI APIs ikr writes to: only the endpoints ikr uses, with the checks the
real services make that matter to ikr (the token, the repository or project, GitLab's masking rule).

The GitHub stand-in publishes the public half of a key pair it made and opens every secret with the
private half: a value it keeps is one GitHub could read. Faults: `revoked` (401 for every call),
`answer` (a status for the PUT or POST of one name, after or without keeping the value), `drop` (the
connection closed without an answer after the request was read: a lost answer).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from nacl.public import PrivateKey, SealedBox

from tests.support.servers import LOCALHOST, _Stoppable

GITHUB_TOKEN = "ghp_standin0token0for0tests0000000000"
GITLAB_TOKEN = "glpat-standin-token-for-tests"
_MASKABLE = r"[A-Za-z0-9+/=@:.~]{8,}"


@dataclass
class Fault:
    status: int = 0  # answer this status instead of 2xx
    keep: bool = False  # ...after keeping the value (a 5xx after the write happened)
    drop: bool = False  # close the connection without an answer (after keeping the value when `keep`)


class _Server(_Stoppable):
    """A threaded HTTP server on loopback whose handler calls `route(method, path, query, headers, body)`."""

    def _start(self, name: str) -> None:
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []
        self.delay = 0.0  # seconds every write waits before its answer (after keeping the value): a time-out
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                parts = urlsplit(self.path)
                with server.lock:
                    server.requests.append((self.command, parts.path))
                    status, answer = server.route(self.command, parts.path, parse_qs(parts.query), self.headers, body)
                if self.command != "GET" and server.delay:
                    time.sleep(server.delay)
                if status == 0:  # drop: the request was read, no answer comes
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                data = json.dumps(answer).encode() if answer is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = _any

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((LOCALHOST, 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name=name, daemon=True)
        self._thread.start()

    def route(self, method: str, path: str, query: dict[str, list[str]], headers: Any, body: Any) -> tuple[int, Any]:
        raise NotImplementedError

    @property
    def base(self) -> str:
        return f"http://{LOCALHOST}:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _fault_answer(fault: Fault | None) -> tuple[int, Any] | None:
    if fault is None:
        return None
    if fault.drop:
        return 0, None
    return fault.status, {"message": "stand-in fault"}


class GitHubStandIn(_Server):
    """`GET .../public-key` and `PUT .../<secret name>` for repository and environment secrets."""

    def __init__(self, repositories: set[str], environments: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.repositories = set(repositories)  # "owner/repo"
        self.environments = set(environments)  # "owner/repo/env"
        self.private = PrivateKey.generate()
        self.key_id = "3380204578043523366"
        self.secrets: dict[tuple[str, str], str] = {}  # (scope, name) -> the value GitHub opened
        self.revoked = False
        self.faults: dict[str, Fault] = {}  # by secret name
        # A GitHub App: its id and the public half of its key (JWTs are checked with it), the
        # repositories it is installed on, and the installation tokens handed out.
        self.app: tuple[str, rsa.RSAPublicKey] | None = None
        self.installed: set[str] = set(repositories)
        self.installation_tokens: list[str] = []
        self._start("github-standin")

    @property
    def url(self) -> str:
        return self.base  # GITHUB_API_URL

    def value(self, scope: str, name: str) -> str:
        with self.lock:
            return self.secrets[(scope, name)]

    def _app_route(self, method: str, parts: list[str], authorization: str) -> tuple[int, Any] | None:
        """The two App endpoints, authenticated by the app's JWT; None for any other path."""
        installation = method == "GET" and len(parts) == 4 and parts[0] == "repos" and parts[3] == "installation"
        token = method == "POST" and parts[:2] == ["app", "installations"] and parts[3:] == ["access_tokens"]
        if not (installation or token):
            return None
        if self.app is None or not _valid_jwt(authorization.removeprefix("Bearer "), *self.app):
            return 401, {"message": "A JSON web token could not be decoded"}
        if installation:
            repo = f"{parts[1]}/{parts[2]}"
            return (200, {"id": 4711}) if repo in self.installed else (404, {"message": "Not Found"})
        if parts[2] != "4711":
            return 404, {"message": "Not Found"}
        issued = f"ghs_installation{len(self.installation_tokens)}"
        self.installation_tokens.append(issued)
        return 201, {"token": issued, "expires_at": "2099-01-01T00:00:00Z"}

    def route(self, method: str, path: str, query: dict[str, list[str]], headers: Any, body: Any) -> tuple[int, Any]:
        parts = [unquote(part) for part in path.strip("/").split("/")]
        app = self._app_route(method, parts, headers.get("Authorization") or "")
        if app is not None:
            return app
        accepted = {f"Bearer {token}" for token in [GITHUB_TOKEN, *self.installation_tokens]}
        if self.revoked or headers.get("Authorization") not in accepted:
            return 401, {"message": "Bad credentials"}
        if len(parts) < 5 or parts[0] != "repos":
            return 404, {"message": "Not Found"}
        scope = f"{parts[1]}/{parts[2]}"
        rest = parts[3:]
        if rest[0] == "environments" and len(rest) >= 4 and rest[2] == "secrets":
            scope, rest = f"{scope}/{rest[1]}", rest[3:]
        elif rest[:2] == ["actions", "secrets"]:
            rest = rest[2:]
        else:
            return 404, {"message": "Not Found"}
        if (scope not in self.repositories and scope not in self.environments) or len(rest) != 1:
            return 404, {"message": "Not Found"}
        if method == "GET" and rest == ["public-key"]:
            return 200, {"key_id": self.key_id, "key": base64.b64encode(bytes(self.private.public_key)).decode()}
        if method != "PUT":
            return 404, {"message": "Not Found"}
        name = rest[0]
        fault = self.faults.get(name)
        if fault is not None and not fault.keep:
            return _fault_answer(fault) or (500, None)
        if not isinstance(body, dict) or body.get("key_id") != self.key_id:
            return 422, {"message": "Bad request: wrong key_id"}
        opened = SealedBox(self.private).decrypt(base64.b64decode(body["encrypted_value"])).decode()
        created = (scope, name) not in self.secrets
        self.secrets[(scope, name)] = opened
        return _fault_answer(fault) or ((201, {}) if created else (204, None))


def _valid_jwt(jwt: str, app_id: str, public_key: rsa.RSAPublicKey) -> bool:
    """What GitHub checks of an app's JWT: RS256 signature by the app's key, issuer, a live term of at
    most ten minutes."""

    def decoded(part: str) -> bytes:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))

    try:
        header, payload, signature = jwt.split(".")
        public_key.verify(decoded(signature), f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
        claims = json.loads(decoded(payload))
    except (ValueError, InvalidSignature):
        return False
    now = time.time()
    return bool(
        json.loads(decoded(header)) == {"alg": "RS256", "typ": "JWT"}
        and claims["iss"] == app_id
        and claims["iat"] <= now < claims["exp"]
        and claims["exp"] - claims["iat"] <= 600
    )


class GitLabStandIn(_Server):
    """`PUT /projects/:id/variables/:key` (update) and `POST /projects/:id/variables` (create)."""

    def __init__(self, projects: dict[int, str], mask_slash_and_plus: bool = True) -> None:
        self.projects = dict(projects)  # id -> "namespace/project"
        self.variables: dict[tuple[int, str], dict[str, Any]] = {}  # (project id, key) -> variable
        self.mask_slash_and_plus = mask_slash_and_plus  # False: a GitLab before 12.0
        self.revoked = False
        self.faults: dict[str, Fault] = {}
        self._start("gitlab-standin")

    @property
    def url(self) -> str:
        return f"{self.base}/api/v4"  # GITLAB_API_URL

    def value(self, project: int, key: str) -> dict[str, Any]:
        with self.lock:
            return dict(self.variables[(project, key)])

    def _project(self, ref: str) -> int | None:
        if ref.isdigit():
            return int(ref) if int(ref) in self.projects else None
        return next((pid for pid, path in self.projects.items() if path == ref), None)

    def _maskable(self, value: str) -> bool:
        import re

        if not self.mask_slash_and_plus and ("/" in value or "+" in value):
            return False
        return re.fullmatch(_MASKABLE, value) is not None

    def route(self, method: str, path: str, query: dict[str, list[str]], headers: Any, body: Any) -> tuple[int, Any]:
        if self.revoked or headers.get("PRIVATE-TOKEN") != GITLAB_TOKEN:
            return 401, {"message": "401 Unauthorized"}
        parts = path.strip("/").split("/")
        if parts[:3] != ["api", "v4", "projects"] or len(parts) < 5 or parts[4] != "variables":
            return 404, {"error": "404 Not Found"}
        project = self._project(unquote(parts[3]))
        if project is None:
            return 404, {"message": "404 Project Not Found"}
        if not isinstance(body, dict):
            return 400, {"message": "400 Bad request"}
        key = unquote(parts[5]) if len(parts) == 6 else str(body.get("key", ""))
        fault = self.faults.get(key)
        if fault is not None and not fault.keep:
            return _fault_answer(fault) or (500, None)
        if body.get("masked") and not self._maskable(str(body.get("value", ""))):
            return 400, {"message": {"value": ["is invalid"]}}
        if method == "PUT" and len(parts) == 6:
            if query.get("filter[environment_scope]") != ["*"]:
                return 400, {"message": "ikr always filters on the * scope"}
            if (project, key) not in self.variables:
                return 404, {"message": "404 Variable Not Found"}
        elif method == "POST" and len(parts) == 5:
            if (project, key) in self.variables:
                return 400, {"message": {"key": [f"({key}) has already been taken"]}}
        else:
            return 404, {"error": "404 Not Found"}
        variable = {
            "key": key,
            "value": body["value"],
            "masked": bool(body.get("masked")),
            "protected": bool(body.get("protected")),
            "environment_scope": body.get("environment_scope", "*"),
        }
        self.variables[(project, key)] = variable
        return _fault_answer(fault) or (200 if method == "PUT" else 201, variable)


@dataclass
class Unreachable:
    """A base URL where nothing listens (a port taken and released)."""

    url: str = field(default="")

    def __post_init__(self) -> None:
        from tests.support.servers import free_port

        self.url = f"http://{LOCALHOST}:{free_port()}"
