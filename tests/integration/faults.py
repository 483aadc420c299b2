"""Fault injection through botocore for the integration tests.

`Faults(monkeypatch)` wraps `BaseClient._make_api_call`, so it sees every call of every client, old
or new, in whatever session it was made:

- `refuse(...)` raises a ClientError instead of making the call (botocore's retries are skipped, as
  for an error AWS would not have retried anyway);
- `crash_after(...)` lets the call reach AWS, then raises `Crash`, a BaseException no `except
  Exception` in the code under test catches: the process "dies" right after AWS acted;
- `throttle(...)` registers a `before-send` handler (first, ahead of moto's own) on each client it
  sees, answering some requests with a 400 throttling error that goes through botocore's retries as
  a real throttle would; the retry back-off sleeps are recorded, not slept. botocore emits
  `before-send` to every handler and takes the first answer, so moto's in-process stubber would
  still execute an answered request (a throttled CreateUser would create the user): the handler
  marks what it answered and moto's stubber is wrapped to skip marked requests;
- `calls` records every call (service, operation, parameters, and the response) for assertions.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import botocore.endpoint
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.client import BaseClient
from botocore.exceptions import ClientError
from moto.core.botocore_stubber import BotocoreStubber

Params = dict[str, Any]
Predicate = Callable[[Params], bool]
ANSWERED = "x-ikr-fault-answered"  # marks a request a fault handler answered: moto must not execute it

# Operations that change something. Not GenerateCredentialReport: a dry run may read the report.
MUTATING_PREFIXES = (
    "Create",
    "Put",
    "Delete",
    "Update",
    "Tag",
    "Untag",
    "Send",
    "Attach",
    "Detach",
    "Remove",
    "Add",
    "Enable",
    "Disable",
    "Move",
    "Register",
    "Deregister",
    "Set",
    "Upload",
    "BatchWrite",
    "TransactWrite",
    "Verify",
)


class Crash(BaseException):
    """The process dies here: no `except Exception` (nor ClientError, BotoCoreError) catches it."""


@dataclass
class Call:
    service: str
    operation: str
    params: Params
    response: Any = None
    tag: str = ""  # what `Faults.tag` said when the call was made (e.g. inside a handler)


@dataclass
class Rule:
    service: str | None
    operation: str
    when: Predicate
    times: int | None  # None: every matching call
    kind: str  # "refuse" or "crash-after"
    error: Params = field(default_factory=dict)
    hits: int = 0

    def matches(self, service: str, operation: str, params: Params) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if operation != self.operation or (self.service is not None and service != self.service):
            return False
        return self.when(params)


def _always(_params: Params) -> bool:
    return True


class _Body:
    """The `raw` of an AWSResponse: botocore reads its content through `stream()`."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_kwargs: Any) -> Iterator[bytes]:
        yield self._data


def throttling_response(request: AWSPreparedRequest, protocol: str) -> AWSResponse:
    """A 400 throttling error in the shape the client's protocol parses."""
    if protocol in ("query", "ec2"):
        body = (
            b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
            b"<Message>Rate exceeded</Message></Error><RequestId>fault-injected</RequestId></ErrorResponse>"
        )
        headers = {"Content-Type": "text/xml"}
    else:
        body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
        headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": "ThrottlingException"}
    request.headers[ANSWERED] = "1"
    return AWSResponse(request.url, 400, headers, _Body(body))


@dataclass
class Throttle:
    """Throttles request number n (counting every request sent, retries included) when pattern[n % len]."""

    pattern: Sequence[bool]
    sent: int = 0
    throttled: list[str] = field(default_factory=list)  # "service:Operation" of each throttled request
    sleeps: list[float] = field(default_factory=list)

    def decide(self, service: str, operation: str) -> bool:
        throttle = self.pattern[self.sent % len(self.pattern)]
        self.sent += 1
        if throttle:
            self.throttled.append(f"{service}:{operation}")
        return throttle


class Faults:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[Call] = []
        self.rules: list[Rule] = []
        self.throttler: Throttle | None = None
        self.tag = ""  # set by a test around the code under test, to tell its calls from the test's own
        self._monkeypatch = monkeypatch
        self._hooked: weakref.WeakSet[BaseClient] = weakref.WeakSet()
        original: Callable[..., Any] = BaseClient._make_api_call  # type: ignore[attr-defined]
        faults = self

        def _make_api_call(client: BaseClient, operation_name: str, api_params: Params) -> Any:
            return faults._call(original, client, operation_name, api_params)

        monkeypatch.setattr(BaseClient, "_make_api_call", _make_api_call)

    # -- rules ------------------------------------------------------------------------------------
    def refuse(
        self,
        operation: str,
        code: str = "AccessDenied",
        message: str | None = None,
        when: Predicate = _always,
        times: int | None = None,
        service: str | None = None,
        status: int = 403,
    ) -> Rule:
        error = {
            "Error": {"Code": code, "Message": message or f"injected: {code} for {operation}"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }
        rule = Rule(service, operation, when, times, "refuse", error)
        self.rules.append(rule)
        return rule

    def crash_after(
        self, operation: str, when: Predicate = _always, times: int | None = 1, service: str | None = None
    ) -> Rule:
        rule = Rule(service, operation, when, times, "crash-after")
        self.rules.append(rule)
        return rule

    def clear(self) -> None:
        self.rules.clear()
        self.throttler = None

    def throttle(self, pattern: Sequence[bool]) -> Throttle:
        """Throttle requests by a fixed pattern; botocore's retry back-off is recorded, not slept."""
        self.throttler = Throttle(pattern)
        sleeps = self.throttler.sleeps
        self._monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=sleeps.append))
        stub = BotocoreStubber.__call__

        def moto_unless_answered(
            stubber: BotocoreStubber, event_name: str, request: AWSPreparedRequest, **kwargs: Any
        ) -> AWSResponse | None:
            if request.headers.get(ANSWERED):
                return None
            return stub(stubber, event_name, request, **kwargs)

        self._monkeypatch.setattr(BotocoreStubber, "__call__", moto_unless_answered)
        return self.throttler

    # -- what happened ----------------------------------------------------------------------------
    def operations(self, service: str | None = None) -> list[str]:
        return [call.operation for call in self.calls if service is None or call.service == service]

    def responses(self, operation: str) -> list[Any]:
        return [call.response for call in self.calls if call.operation == operation and call.response is not None]

    def mutating(self) -> list[str]:
        return [f"{c.service}:{c.operation}" for c in self.calls if c.operation.startswith(MUTATING_PREFIXES)]

    # -- the wrapper ------------------------------------------------------------------------------
    def _call(self, original: Callable[..., Any], client: BaseClient, operation: str, params: Params) -> Any:
        service = client.meta.service_model.service_name
        self._hook(client)
        call = Call(service, operation, dict(params), tag=self.tag)
        self.calls.append(call)
        crash: Rule | None = None
        for rule in self.rules:
            if rule.matches(service, operation, params):
                rule.hits += 1
                if rule.kind == "refuse":
                    raise ClientError(rule.error, operation)
                crash = crash or rule
        try:
            call.response = original(client, operation, params)
        except ClientError:
            if crash is not None:  # AWS answered with an error, then the process died
                raise Crash(f"process died right after {service}:{operation} failed") from None
            raise
        if crash is not None:
            raise Crash(f"process died right after {service}:{operation}")
        return call.response

    def _hook(self, client: BaseClient) -> None:
        if client in self._hooked:
            return
        self._hooked.add(client)
        protocol = client.meta.service_model.protocol
        service = client.meta.service_model.service_name

        def before_send(request: AWSPreparedRequest, event_name: str = "", **_kwargs: Any) -> AWSResponse | None:
            throttler = self.throttler
            if throttler is None or not throttler.decide(service, event_name.rsplit(".", 1)[-1]):
                return None
            return throttling_response(request, protocol)

        client.meta.events.register_first("before-send", before_send, unique_id=f"ikr-faults-{id(self)}")


def spread(count: int, of: int) -> list[bool]:
    """A deterministic pattern: `count` throttled requests spread over every `of`."""
    marks = {round(index * of / count) for index in range(count)}
    return [index in marks for index in range(of)]
