"""The strict AWS layer: every request is checked against its botocore service model as AWS checks it.

botocore validates types and required members (and some minimum lengths) before sending; AWS checks
the rest of the model on arrival and answers ValidationException. moto checks almost none of it, so a
request AWS would refuse passes every emulator test. Importing this module registers one
`before-parameter-build` handler with botocore's built-in handlers, so every botocore session made
afterwards, in this process, has it on every client (ikr's adapters, the tests' own set-up calls):

- string `pattern` (the models' Java regexes, run with the `regex` package, which knows `\\p{L}`),
  `min` / `max` length and `enum` values; list and map sizes; number ranges; blob lengths;
- a request that breaks one is refused as botocore refuses a malformed one (`ParamValidationError`)
  and recorded as a violation: the pytest plugin (`tests.support.strict_pytest`) fails the test that
  made it, even when the code under test caught the error.

Every request checked is counted by operation, and those made by ikr's own clients (their
`user_agent_extra` says "ikr") separately: the suite's summary line, and the operations the error
matrix (`tests.support.error_matrix`) injects errors into.

`ikr` run as a subprocess (the end-to-end tests) loads this module when IKR_AWS_TEST_HOOKS names it
(`central/aws/__init__.py`); it writes its counts and violations into the folder named by
IKR_STRICT_AWS_DIR, which the pytest process reads.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import threading
from collections import Counter
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

import botocore.handlers
import regex
from botocore.exceptions import ParamValidationError
from botocore.model import OperationModel, Shape, StringShape

HOOKS_ENV = "IKR_AWS_TEST_HOOKS"  # read by central/aws/__init__.py: a module to import
DIR_ENV = "IKR_STRICT_AWS_DIR"  # where a process writes its counts and violations
MODULE = __name__

# The models' patterns are Java regexes. The one construct `regex` reads otherwise: a supplementary
# character range written as UTF-16 surrogate pairs.
_SURROGATE_RANGE = r"\uD800\uDC00-\uDBFF\uDFFF"
_SUPPLEMENTARY_RANGE = r"\U00010000-\U0010FFFF"


@dataclass(frozen=True)
class Violation:
    operation: str  # "service:Operation"
    path: str  # where in the request, e.g. "Tags[0].Value"
    problem: str
    pid: int

    def __str__(self) -> str:
        return f"{self.operation} {self.path}: {self.problem}"


@cache
def _compiled(pattern: str) -> regex.Pattern[str]:
    return regex.compile(pattern.replace(_SURROGATE_RANGE, _SUPPLEMENTARY_RANGE))


def _bounds(shape: Shape) -> tuple[float | None, float | None]:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    return low, high


def _check_size(size: float, shape: Shape, what: str) -> str | None:
    low, high = _bounds(shape)
    if low is not None and size < low:
        return f"{what} {size} is below the model's minimum {low}"
    if high is not None and size > high:
        return f"{what} {size} is above the model's maximum {high}"
    return None


def _check_string(value: str, shape: StringShape) -> list[str]:
    problems: list[str] = []
    if shape.enum and value not in shape.enum:
        problems.append(f"{value!r} is not one of the model's values {sorted(shape.enum)}")
    size = _check_size(len(value), shape, "length")
    if size:
        problems.append(size)
    pattern = shape.metadata.get("pattern")
    if pattern and not _compiled(pattern).fullmatch(value):
        problems.append(f"{_shown(value)} does not match the model's pattern {pattern!r}")
    return problems


def _shown(value: str) -> str:
    return repr(value) if len(value) <= 80 else repr(value[:77] + "...")


def violations_of(shape: Shape | None, value: Any, path: str = "") -> list[tuple[str, str]]:
    """(path, problem) for each part of `value` the model's constraints refuse. A value of the wrong
    type is left to botocore's own validation, which runs next."""
    if shape is None:
        return []
    found: list[tuple[str, str]] = []
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        for name, member in value.items():
            if name in shape.members:  # type: ignore[attr-defined]
                inner = f"{path}.{name}" if path else name
                found += violations_of(shape.members[name], member, inner)  # type: ignore[attr-defined]
    elif kind == "list" and isinstance(value, list | tuple):
        problem = _check_size(len(value), shape, "list size")
        found += [(path, problem)] if problem else []
        for index, item in enumerate(value):
            found += violations_of(shape.member, item, f"{path}[{index}]")  # type: ignore[attr-defined]
    elif kind == "map" and isinstance(value, dict):
        problem = _check_size(len(value), shape, "map size")
        found += [(path, problem)] if problem else []
        for key, item in value.items():
            found += violations_of(shape.key, key, f"{path} key {key!r}")  # type: ignore[attr-defined]
            found += violations_of(shape.value, item, f"{path}[{key!r}]")  # type: ignore[attr-defined]
    elif kind == "string" and isinstance(value, str):
        found += [(path, problem) for problem in _check_string(value, shape)]
    elif kind in ("integer", "long", "float", "double") and isinstance(value, int | float):
        if not isinstance(value, bool):
            problem = _check_size(value, shape, "value")
            found += [(path, problem)] if problem else []
    elif kind == "blob" and isinstance(value, bytes | bytearray | str):
        problem = _check_size(len(value), shape, "length")
        found += [(path, problem)] if problem else []
    return found


class Record:
    """What this process checked: requests by operation (all, and ikr's own) and the violations."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.ikr_requests: Counter[str] = Counter()
        self.violations: list[Violation] = []

    def add(self, operation: str, by_ikr: bool, found: list[Violation]) -> None:
        with self._lock:
            self.requests[operation] += 1
            if by_ikr:
                self.ikr_requests[operation] += 1
            self.violations.extend(found)
        folder = os.environ.get(DIR_ENV)
        if found and folder:
            with (Path(folder) / f"violations-{os.getpid()}.jsonl").open("a") as out:
                out.writelines(json.dumps(asdict(violation)) + "\n" for violation in found)

    def save(self) -> None:
        """This process's counts, into IKR_STRICT_AWS_DIR (one file per process, rewritten)."""
        folder = os.environ.get(DIR_ENV)
        if not folder or not self.requests:
            return
        Path(folder).mkdir(parents=True, exist_ok=True)
        with self._lock:
            data = {"requests": dict(self.requests), "ikr": dict(self.ikr_requests)}
        (Path(folder) / f"calls-{os.getpid()}.json").write_text(json.dumps(data, sort_keys=True))


RECORD = Record()


IKR_PACKAGES = ("central.", "handlers.")


def made_by_ikr(context: dict[str, Any] | None) -> bool:
    """A request of ikr's own code: its client is one of ikr's (the user agent says "ikr") and ikr's
    code is on the stack (a test's set-up may call through a client ikr made)."""
    config = (context or {}).get("client_config")
    if "ikr" not in (getattr(config, "user_agent_extra", None) or "").split():
        return False
    frame = sys._getframe(1)
    while frame is not None:
        if str(frame.f_globals.get("__name__", "")).startswith(IKR_PACKAGES):
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


def check_request(
    params: dict[str, Any], model: OperationModel, context: dict[str, Any] | None = None, **_: Any
) -> None:
    """The `before-parameter-build` handler: count the request, refuse it if AWS would."""
    operation = f"{model.service_model.service_name}:{model.name}"
    found = [
        Violation(operation, path, problem, os.getpid()) for path, problem in violations_of(model.input_shape, params)
    ]
    RECORD.add(operation, made_by_ikr(context), found)
    if found:
        report = "; ".join(f"{v.path}: {v.problem}" for v in found)
        raise ParamValidationError(report=f"strict AWS layer, {operation} would be refused by AWS: {report}")


def install() -> None:
    """Put the check among botocore's built-in handlers, which every new botocore session registers."""
    entry = ("before-parameter-build", check_request)
    if entry not in botocore.handlers.BUILTIN_HANDLERS:
        botocore.handlers.BUILTIN_HANDLERS.append(entry)


install()
atexit.register(RECORD.save)
