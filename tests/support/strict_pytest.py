"""The strict AWS layer (`tests.support.strict_aws`) in every test, as a pytest plugin.

- Importing `strict_aws` puts its check on every botocore session made afterwards in this process;
  `pytest_configure` also sets IKR_AWS_TEST_HOOKS (and puts the project on PYTHONPATH), so an `ikr`
  subprocess loads it too, and gives each pytest process (the controller, each xdist worker) a folder
  of its own, IKR_STRICT_AWS_DIR, where its subprocesses write their counts and violations.
- After each test, any violation recorded meanwhile (in process or by a subprocess) fails it.
- The terminal summary adds `strict AWS layer: N requests validated, M operations`, over every
  process. With IKR_STRICT_AWS_RECORD=<file> it also writes there the operations ikr's own clients
  called, with their counts: the recorded calls the error matrix is generated from.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import strict_aws

ROOT_ENV = "IKR_STRICT_AWS_ROOT"  # the controller's folder; each process writes under it
RECORD_ENV = "IKR_STRICT_AWS_RECORD"
PROJECT = Path(__file__).resolve().parents[2]


def pytest_configure(config: pytest.Config) -> None:
    worker = getattr(config, "workerinput", {}).get("workerid")
    if worker is None:  # the controller, or the only process: its workers inherit the root
        os.environ[ROOT_ENV] = tempfile.mkdtemp(prefix="ikr-strict-aws-")
    folder = Path(os.environ[ROOT_ENV]) / (worker or "main")
    folder.mkdir(parents=True, exist_ok=True)
    os.environ[strict_aws.DIR_ENV] = str(folder)
    os.environ[strict_aws.HOOKS_ENV] = strict_aws.MODULE
    paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    if str(PROJECT) not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [*paths, str(PROJECT)]))


def _subprocess_violations(consumed: dict[Path, int]) -> list[str]:
    """Violations written by subprocesses of this pytest process since the last look (`consumed`:
    lines read so far, by file)."""
    found: list[str] = []
    for path in sorted(Path(os.environ[strict_aws.DIR_ENV]).glob("violations-*.jsonl")):
        lines = path.read_text().splitlines()
        for line in lines[consumed.get(path, 0) :]:
            record = json.loads(line)
            if record["pid"] != os.getpid():  # this process's own are in strict_aws.RECORD
                found.append(f"{record['operation']} {record['path']}: {record['problem']} (in a subprocess)")
        consumed[path] = len(lines)
    return found


_consumed: dict[Path, int] = {}


@pytest.fixture(autouse=True)
def strict_aws_requests() -> Iterator[None]:
    """Fails the test if a request it caused (directly, through ikr, or in an `ikr` subprocess) breaks
    its service model's constraints: AWS would have refused it."""
    before = len(strict_aws.RECORD.violations)
    _subprocess_violations(_consumed)
    yield
    found = [str(violation) for violation in strict_aws.RECORD.violations[before:]]
    found += _subprocess_violations(_consumed)
    if found:
        pytest.fail("strict AWS layer: requests AWS would refuse:\n" + "\n".join(found), pytrace=False)


_matrix: dict[str, tuple[str, str]] = {}  # error matrix case -> (operation, outcome)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """The error matrix's cases (tests/integration/test_error_matrix.py), as the controller sees them."""
    properties = dict(report.user_properties)
    if "error_matrix" in properties and (report.when == "call" or report.outcome != "passed"):
        outcome = "unreached" if properties.get("error_matrix_reached") is False else report.outcome
        _matrix[report.nodeid] = (str(properties["error_matrix"]), outcome)


def pytest_sessionfinish(session: pytest.Session) -> None:
    strict_aws.RECORD.save()


def _totals() -> tuple[Counter[str], Counter[str]]:
    requests: Counter[str] = Counter()
    ikr: Counter[str] = Counter()
    for path in Path(os.environ[ROOT_ENV]).glob("*/calls-*.json"):
        data = json.loads(path.read_text())
        requests.update(data["requests"])
        ikr.update(data["ikr"])
    return requests, ikr


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    if getattr(config, "workerinput", None) is not None:
        return
    requests, ikr = _totals()
    terminalreporter.write_line(
        f"strict AWS layer: {sum(requests.values())} requests validated, {len(requests)} operations "
        f"({sum(ikr.values())} requests of {len(ikr)} operations by ikr's own clients)"
    )
    if _matrix:
        outcomes = Counter(outcome for _operation, outcome in _matrix.values())
        tried = sum(count for outcome, count in outcomes.items() if outcome != "unreached")
        operations = {operation for operation, outcome in _matrix.values() if outcome != "unreached"}
        unreached = sorted({operation for operation, outcome in _matrix.values() if outcome == "unreached"})
        terminalreporter.write_line(
            f"error matrix: {len(operations)} operations × documented errors: {tried} tried / "  # noqa: RUF001 - the issue's own words
            f"{outcomes['passed']} handled"
            + (f"; not reached by any scenario: {', '.join(unreached)}" if unreached else "")
        )
    record = os.environ.get(RECORD_ENV)
    if record:
        Path(record).write_text(json.dumps(dict(sorted(ikr.items())), indent=1) + "\n")
        terminalreporter.write_line(f"strict AWS layer: ikr's operations written to {record}")
