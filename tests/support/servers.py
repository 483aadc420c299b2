"""Local stand-ins for what ikr talks to: a moto server, an SMTP sink, a Mailgun HTTP API, a webhook.

Each starts on a free 127.0.0.1 port and stops cleanly; shared by the end-to-end tests and the demo.
"""

from __future__ import annotations

import base64
import email
import email.policy
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs

from aiosmtpd.controller import Controller

LOCALHOST = "127.0.0.1"
CENTRAL_ACCOUNT = "123456789012"  # moto's default account: the caller's own, the Organization's management
MAIL_FROM = "ikr@example.com"
TABLE = "ikr-expiry-e2e"


def free_port() -> int:
    """A port nobody listens on right now (the kernel picks; a race is possible, so callers retry)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOCALHOST, 0))
        port: int = probe.getsockname()[1]
        return port


class _Stoppable:
    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()


# -- moto -----------------------------------------------------------------------------------------


class MotoServer(_Stoppable):
    """`python -m moto.server` in its own process: its state is its own (servers in one process share one)."""

    def __init__(self, start_timeout: float = 30.0, attempts: int = 3) -> None:
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        for _ in range(attempts):
            port = free_port()
            process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", LOCALHOST, "-p", str(port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            if _wait_for_http(f"http://{LOCALHOST}:{port}/moto-api/", process, start_timeout):
                self.port, self._process = port, process
                return
            _terminate(process)  # most likely someone took the port between probe and bind
        raise RuntimeError(f"moto server did not start in {attempts} attempts")

    @property
    def url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}"

    def reset(self) -> None:
        """Forget every account, user, table and parameter: a fresh emulator for the next world."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()

    def stop(self) -> None:
        if self._process is not None:
            _terminate(self._process)
            self._process = None


def _wait_for_http(url: str, process: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                response.read()
            return True
        except urllib.error.HTTPError:
            return True  # any HTTP answer means it is serving
        except OSError:
            time.sleep(0.1)
    return False


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


# -- SMTP -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedMail:
    to: str
    sender: str
    subject: str
    text: str
    html: str
    envelope_to: tuple[str, ...]


def parse_mail(raw: bytes, envelope_to: tuple[str, ...] = ()) -> ReceivedMail:
    # SMTP carries CRLF line ends; the parsed text keeps them unless told otherwise.
    message = email.message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    return ReceivedMail(
        to=str(message["To"] or ""),
        sender=str(message["From"] or ""),
        subject=str(message["Subject"] or ""),
        text=text.get_content() if isinstance(text, EmailMessage) else "",
        html=html.get_content() if isinstance(html, EmailMessage) else "",
        envelope_to=envelope_to,
    )


class _SinkHandler:
    """aiosmtpd handler: keeps each message, or answers a permanent refusal as a broken relay would."""

    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self._sink.refusing:
            return "554 mail refused"
        self._sink._add(parse_mail(envelope.content, tuple(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


class SmtpSink(_Stoppable):
    """A real SMTP server (aiosmtpd) that keeps what it receives; `refusing = True` makes it say 554."""

    def __init__(self, refusing: bool = False, attempts: int = 3) -> None:
        self.refusing = refusing
        self._messages: list[ReceivedMail] = []
        self._changed = threading.Condition()
        self._controller: Controller | None = None
        self.port = 0
        for _ in range(attempts):
            port = free_port()
            controller = Controller(_SinkHandler(self), hostname=LOCALHOST, port=port)
            try:
                controller.start()
            except (OSError, RuntimeError):
                continue  # the port was taken between probe and bind
            self.port, self._controller = port, controller
            return
        raise RuntimeError(f"SMTP sink did not start in {attempts} attempts")

    def _add(self, mail: ReceivedMail) -> None:
        with self._changed:
            self._messages.append(mail)
            self._changed.notify_all()

    @property
    def messages(self) -> list[ReceivedMail]:
        with self._changed:
            return list(self._messages)

    def clear(self) -> None:
        with self._changed:
            self._messages.clear()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedMail]:
        """At least `count` messages, or AssertionError after `timeout` seconds."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._messages) >= count, timeout):
                raise AssertionError(f"SMTP sink got {len(self._messages)} message(s), wanted {count}")
            return list(self._messages)

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


# -- a misbehaving SMTP relay -------------------------------------------------------------------------

DROP = "drop"  # close the connection instead of answering
HANG = "hang"  # never answer (the client times out)
QUOTE = "quote"  # answer 554 quoting every line of the message, as some relays do
STAGES = ("banner", "ehlo", "mail", "rcpt", "data", "end", "quit")


class _SocketServer(_Stoppable):
    """A listener on a free local port whose thread hands each connection to `_connection`."""

    def __init__(self, name: str) -> None:
        self._stopping = threading.Event()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((LOCALHOST, 0))
        self._listener.listen(8)
        self._listener.settimeout(0.2)
        self.port: int = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            self._connection(conn)
        self._closing()

    def _connection(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def _closing(self) -> None:
        """Called on the server's thread once it stops accepting."""

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        self._listener.close()


class FaultySmtpServer(_SocketServer):
    """A small, real SMTP server on a socket that fails at one stage on purpose.

    `faults` maps a stage (banner, ehlo, mail, rcpt, data: the DATA command, end: the reply after
    the message's final dot, quit) to a reply line such as "451 4.3.0 try later", or DROP, HANG,
    QUOTE. `spare` names recipients it treats as a sound relay would (an administrator's address).
    Messages it answered 250 at `end` are kept in `accepted`; every message whose final dot it
    read, whatever it answered, in `received`.
    """

    def __init__(self, faults: dict[str, str] | None = None, spare: frozenset[str] = frozenset()) -> None:
        self.faults = dict(faults or {})
        self.spare = spare
        self.accepted: list[ReceivedMail] = []
        self.received: list[bytes] = []
        self._lock = threading.Lock()
        super().__init__("faulty-smtp")

    def _connection(self, conn: socket.socket) -> None:
        threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _fault(self, stage: str, rcpts: list[str]) -> str | None:
        if rcpts and all(rcpt in self.spare for rcpt in rcpts):
            return None
        return self.faults.get(stage)

    def _session(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        stream = conn.makefile("rb")
        rcpts: list[str] = []

        def answer(stage: str, normal: str, lines: list[bytes] | None = None) -> bool:
            fault = self._fault(stage, rcpts)
            if fault == DROP:
                return False
            if fault == HANG:
                self._stopping.wait(30)
                return False
            if fault == QUOTE:
                quoted = [b"554-" + line for line in lines or []]
                conn.sendall(b"\r\n".join([*quoted, b"554 5.7.1 message refused, content quoted above"]) + b"\r\n")
                return True
            conn.sendall(((fault or normal) + "\r\n").encode())
            return True

        try:
            if not answer("banner", "220 faulty.test ESMTP") or self.faults.get("banner", "220").startswith(("4", "5")):
                return
            while True:
                line = stream.readline()
                if not line:
                    return
                verb = line[:4].upper()
                if verb == b"EHLO":
                    ok = answer("ehlo", "250-faulty.test\r\n250 8BITMIME")
                elif verb == b"HELO":
                    ok = answer("ehlo", "250 faulty.test")
                elif verb == b"MAIL":
                    rcpts = []
                    ok = answer("mail", "250 2.1.0 OK")
                elif verb == b"RCPT":
                    rcpts.append(line.split(b":", 1)[1].strip().strip(b"<>").decode())
                    ok = answer("rcpt", "250 2.1.5 OK")
                elif verb == b"DATA":
                    fault = self._fault("data", rcpts)
                    ok = answer("data", "354 go ahead")
                    if ok and not (fault or "354").startswith("354"):
                        continue
                    if ok:
                        ok = self._message(stream, rcpts, answer)
                elif verb == b"QUIT":
                    answer("quit", "221 bye")
                    return
                else:
                    ok = answer("other", "250 OK")
                if not ok:
                    return
        except OSError:
            return
        finally:
            stream.close()
            conn.close()

    def _message(self, stream: Any, rcpts: list[str], answer: Callable[..., bool]) -> bool:
        lines: list[bytes] = []
        while True:
            line = stream.readline()
            if not line:
                return False
            if line in (b".\r\n", b".\n"):
                break
            lines.append(line.rstrip(b"\r\n"))
        raw = b"\r\n".join(line[1:] if line.startswith(b".") else line for line in lines) + b"\r\n"
        with self._lock:
            self.received.append(raw)
        fault = self._fault("end", rcpts)
        if fault is None or fault.startswith("2"):
            with self._lock:
                self.accepted.append(parse_mail(raw, tuple(rcpts)))
        return answer("end", "250 2.0.0 queued", lines)


class SilentServer(_SocketServer):
    """Accepts connections and reads what comes, but never answers: a webhook or API that hangs."""

    def __init__(self) -> None:
        self.connections = 0
        self._held: list[socket.socket] = []
        super().__init__("silent-server")

    def _connection(self, conn: socket.socket) -> None:
        self.connections += 1
        self._held.append(conn)  # kept open, never answered

    def _closing(self) -> None:
        for conn in self._held:
            conn.close()

    def url(self, scheme: str = "http", path: str = "/hooks/T0KEN-silent") -> str:
        return f"{scheme}://{LOCALHOST}:{self.port}{path}"


class HangUpServer(_SocketServer):
    """Reads one whole HTTP request, then closes the connection without a word: the request was
    received, its answer is lost."""

    def __init__(self) -> None:
        self.requests = 0
        super().__init__("hang-up-server")

    def _connection(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            stream = conn.makefile("rb")
            length = 0
            while (line := stream.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            stream.read(length)
            self.requests += 1
            stream.close()

    @property
    def url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}/v3/mg.example.com/messages"


# -- Mailgun --------------------------------------------------------------------------------------


@dataclass
class MailgunStandIn(_Stoppable):
    """Mailgun's `POST /v3/<domain>/messages`: form fields in, basic auth ('api', key), 200 JSON out.

    `status` makes it answer 500 (Mailgun down) or 401 (key revoked) instead; a wrong key is always 401.
    """

    api_key: str
    status: int = 200
    messages: list[dict[str, str]] = field(default_factory=list)
    requests: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                stand_in._answer(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        self._server = ThreadingHTTPServer((LOCALHOST, 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="mailgun-stand-in", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{LOCALHOST}:{self._server.server_address[1]}/v3/mg.example.com/messages"

    def _answer(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length).decode("utf-8")
        expected = "Basic " + base64.b64encode(f"api:{self.api_key}".encode()).decode("ascii")
        with self._lock:
            self.requests += 1
            status = self.status
            if request.headers.get("Authorization") != expected:
                status = 401
            elif status == 200:
                form = {name: values[0] for name, values in parse_qs(body).items()}
                self.messages.append(form)
        reply: dict[str, str] = (
            {"id": f"<{len(self.messages)}@mg.example.com>", "message": "Queued. Thank you."}
            if status == 200
            else {"message": "Forbidden" if status == 401 else "Internal Server Error"}
        )
        payload = json.dumps(reply).encode("utf-8")
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


# -- a webhook (Slack / Teams incoming webhook) ----------------------------------------------------


@dataclass
class WebhookSink(_Stoppable):
    """An incoming webhook at `/hooks/<token>`: keeps each JSON body; `status` makes it answer with
    an error instead. The token in the path stands for the secret a real webhook URL holds."""

    token: str = "T0KEN-webhook-7c1d9e"
    status: int = 200
    received: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null")
                ok = self.path == f"/hooks/{sink.token}"
                with sink._lock:
                    if ok and sink.status == 200:
                        sink.received.append(body)
                    status = sink.status if ok else 404
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((LOCALHOST, 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook-sink", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{LOCALHOST}:{self._server.server_address[1]}/hooks/{self.token}"

    def events(self) -> list[str]:
        with self._lock:
            return [body["event"] for body in self.received]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


# -- the environment of the `ikr` CLI ---------------------------------------------------------------

# PYTHONPATH: a worktree run with its code first on the path must test that code, not the editable install.
# IKR_AWS_TEST_HOOKS / IKR_STRICT_AWS_DIR: the strict AWS layer in `ikr` (tests/support/strict_pytest.py).
_KEPT = (
    "PATH",
    "LANG",
    "LC_ALL",
    "SYSTEMROOT",
    "TMPDIR",
    "VIRTUAL_ENV",
    "PYTHONPATH",
    "IKR_AWS_TEST_HOOKS",
    "IKR_STRICT_AWS_DIR",
)


def env_for(moto_url: str, smtp_port: int | None = None, **extra: str | int | None) -> dict[str, str]:
    """A clean environment for `ikr` against the local stand-ins: nothing leaks in from the caller's AWS
    set-up (no AWS_PROFILE, no ~/.aws files). `extra` adds or overrides; None removes a variable."""
    env = {name: os.environ[name] for name in _KEPT if name in os.environ}
    env.update(
        {
            "AWS_ENDPOINT_URL": moto_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            # A developer's own config or credentials file must not change what the tests do.
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "MAIL_CLIENT": "smtp",
            "SMTP_SERVER": LOCALHOST,
            "SMTP_PORT": str(smtp_port or 25),
            "SMTP_PROTOCOL": "plain",
            "MAIL_FROM": MAIL_FROM,
            "IAM_KEY_ROTATOR_TABLE": TABLE,
            "PYTHONUNBUFFERED": "1",
        }
    )
    for name, value in extra.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = str(value)
    return env


def ikr_command() -> list[str]:
    """The installed console script when it sits next to this interpreter, else the module."""
    script = Path(sys.executable).with_name("ikr")
    return [str(script)] if script.exists() else [sys.executable, "-m", "central.cli.main"]
