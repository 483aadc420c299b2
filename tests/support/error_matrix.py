"""The error matrix: every documented error of every operation ikr calls, injected once through botocore.

The rows come from recordings, never a hand list:

- the operations: those ikr's own clients called in a whole suite run, as the strict AWS layer
  recorded them (`IKR_STRICT_AWS_RECORD=tests/data/aws_calls_suite.json`, `make record-aws-calls`);
- the errors: each operation's `error_shapes` in its botocore service model; where the model lists
  none, the errors AWS documents as common to every API (the CommonErrors page of each API
  reference: AccessDeniedException, ExpiredTokenException, ... ServiceUnavailable, ThrottlingException);
- where each operation is reached: the operations each scenario (a real entry point on the emulator,
  `tests/integration/error_scenarios.py`) called in a clean run (`tests/data/aws_calls_scenarios.json`,
  written by `make error-matrix`).

`Injection` answers the first request of one operation made by ikr's clients with one error: a
`before-call` handler among botocore's built-in handlers returns the error response, which botocore
raises as AWS's answer (its retries are not involved: a retryable error stands for retries run out).
"""

from __future__ import annotations

import json
import random
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import botocore.handlers
import botocore.session
from botocore.awsrequest import AWSResponse
from botocore.model import OperationModel

from tests.support.strict_aws import made_by_ikr

DATA = Path(__file__).resolve().parents[1] / "data"
SUITE_CALLS = DATA / "aws_calls_suite.json"
SCENARIO_CALLS = DATA / "aws_calls_scenarios.json"

# AWS's errors common to every API (e.g. https://docs.aws.amazon.com/IAM/latest/APIReference/CommonErrors.html),
# for operations whose model documents none of their own.
COMMON_ERRORS: tuple[tuple[str, int], ...] = (
    ("AccessDeniedException", 403),
    ("ExpiredTokenException", 403),
    ("IncompleteSignature", 403),
    ("InternalFailure", 500),
    ("InvalidClientTokenId", 403),
    ("NotAuthorized", 401),
    ("OptInRequired", 403),
    ("RequestExpired", 400),
    ("ServiceUnavailable", 503),
    ("ThrottlingException", 400),
    ("ValidationError", 400),
)


@dataclass(frozen=True)
class Case:
    operation: str  # "service:Operation"
    code: str
    status: int
    documented: bool  # in the operation's model (else one of the common errors)

    @property
    def id(self) -> str:
        return f"{self.operation}-{self.code}"

    @property
    def marker(self) -> str:
        """A word only the injected error's message carries: finds it in what the run printed."""
        return f"injected-{self.code}"


@cache
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


def operation_model(operation: str) -> OperationModel:
    service, name = operation.split(":", 1)
    return _session().get_service_model(service).operation_model(name)


def documented_errors(operation: str) -> list[Case]:
    """The operation's errors from its model, in the model's order; the common ones if none."""
    cases = []
    for shape in operation_model(operation).error_shapes:
        error = shape.metadata.get("error", {})
        cases.append(Case(operation, error.get("code") or shape.name, int(error.get("httpStatusCode", 400)), True))
    return cases or [Case(operation, code, status, False) for code, status in COMMON_ERRORS]


def recorded_operations() -> list[str]:
    """What ikr's own clients called in the recorded suite run (none before the first recording)."""
    return sorted(json.loads(SUITE_CALLS.read_text())) if SUITE_CALLS.exists() else []


def scenario_reach() -> dict[str, list[str]]:
    """Scenario name -> the operations its clean run called (in the scenarios' order of preference)."""
    if not SCENARIO_CALLS.exists():
        return {}
    data: dict[str, list[str]] = json.loads(SCENARIO_CALLS.read_text())
    return data


def scenario_for(operation: str) -> str | None:
    return next((name for name, ops in scenario_reach().items() if operation in ops), None)


def full_matrix() -> list[Case]:
    return [case for operation in recorded_operations() for case in documented_errors(operation)]


def sample_matrix(seed: int = 16, costly: frozenset[str] = frozenset()) -> list[Case]:
    """Each operation's first documented error and one other drawn with a fixed seed: the suite's share.
    An operation reached only by a `costly` scenario (seconds a case) gets its first error alone."""
    picked: list[Case] = []
    for operation in recorded_operations():
        cases = documented_errors(operation)
        picked.append(cases[0])
        if len(cases) > 1 and scenario_for(operation) not in costly:
            picked.append(random.Random(f"{seed}:{operation}").choice(cases[1:]))
    return picked


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_kwargs: Any) -> Any:
        yield self._data


class Injection:
    """Armed with a case, answers the first matching request of ikr's clients with its error."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.case: Case | None = None
        self.fired: list[str] = []  # operations answered

    def arm(self, case: Case | None) -> None:
        with self._lock:
            self.case = case
            self.fired = []

    def __call__(self, model: OperationModel, context: dict[str, Any] | None = None, **_: Any) -> Any:
        operation = f"{model.service_model.service_name}:{model.name}"
        with self._lock:
            case = self.case
            if case is None or case.operation != operation or self.fired or not made_by_ikr(context):
                return None
            self.fired.append(operation)
        message = f"{case.marker}: {case.code} injected into {operation}"
        parsed = {
            "Error": {"Code": case.code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": case.status, "RequestId": "error-matrix"},
        }
        return AWSResponse("https://error-matrix.invalid/", case.status, {}, _Body(b"")), parsed


INJECTION = Injection()


def install() -> None:
    """Every botocore session made from now on answers through `INJECTION` when it is armed."""
    entry = ("before-call", INJECTION)
    if entry not in botocore.handlers.BUILTIN_HANDLERS:
        botocore.handlers.BUILTIN_HANDLERS.append(entry)
