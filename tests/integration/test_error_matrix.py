"""The error matrix (tests/support/error_matrix.py): a documented AWS error injected into one operation
ikr calls, while a real entry point runs on the emulator. Each case must end

- with the documented exit (the CLI: 0 or 1, never 2 or a crash; a handler: its response, or an ikr
  error naming what failed, never a raw exception),
- with no raw traceback in anything printed or logged,
- with a message naming the account, user or resource wherever the error shows (the exit code or
  the handler's response says something failed, or the injected message appears),
- and with nothing lost (`Scenario.lost`).

The suite runs a sample (each operation's first documented error and one drawn with a fixed seed);
`make error-matrix` (IKR_ERROR_MATRIX=full) runs every case and prints "operations x documented
errors: tried / handled". IKR_ERROR_MATRIX=record runs each scenario once, clean, and writes which
operations it reaches (tests/data/aws_calls_scenarios.json).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from types import SimpleNamespace

import boto3
import botocore.endpoint
import botocore.waiter
import pytest

from central.domain.errors import IkrError
from tests.integration.error_scenarios import SCENARIOS, Outcome, Scenario
from tests.integration.fixtures_extra import shared_botocore_loader  # noqa: F401 - autouse: speed
from tests.support import error_matrix, strict_aws
from tests.support.error_matrix import INJECTION, Case

error_matrix.install()
pytestmark = pytest.mark.usefixtures("ikr_logging_restored")  # `ikr` in process, test after test

MODE = os.environ.get("IKR_ERROR_MATRIX", "sample")
COSTLY = frozenset(name for name, scenario in SCENARIOS.items() if scenario.costly)
CASES = error_matrix.full_matrix() if MODE == "full" else error_matrix.sample_matrix(costly=COSTLY)
TRACEBACK = "Traceback (most recent call last)"


def _scenario(name: str, request: pytest.FixtureRequest, central: boto3.Session) -> Scenario:
    return SCENARIOS[name](
        central,
        request.getfixturevalue("monkeypatch"),
        request.getfixturevalue("capsys"),
        request.getfixturevalue("caplog"),
        request.getfixturevalue("tmp_path"),
    )


def failures(scenario: Scenario, outcome: Outcome, case: Case) -> list[str]:
    """What is wrong with how the run ended; empty when the error was handled."""
    problems: list[str] = []
    text = outcome.text()
    if outcome.exit_code is not None and outcome.exit_code not in scenario.exits(case):
        problems.append(f"exit code {outcome.exit_code} (documented: 0 all well, 1 some account or user failed)")
    if outcome.raised is not None and not isinstance(outcome.raised, IkrError):
        problems.append(f"raised {type(outcome.raised).__name__}: {outcome.raised}")
    if TRACEBACK in text:
        problems.append("a raw traceback in the output or the logs")
    shown = [*outcome.shown, str(outcome.raised or "")]  # what a person running it sees
    mentions = [line for line in shown if case.marker in line or case.code in line]
    if mentions and not any(name in line for line in mentions for name in scenario.names):
        problems.append(f"the error ({case.code}) is shown without the account, user or resource it hit")
    failed = bool(outcome.exit_code) or outcome.raised is not None or bool(_batch_failures(outcome))
    if failed and not any(name in line for line in shown for name in scenario.names):
        problems.append("it failed, but nothing shown names the account, user or resource")
    problems += scenario.lost(outcome, case)
    return problems


def _batch_failures(outcome: Outcome) -> list[object]:
    response = outcome.response
    return list(response.get("batchItemFailures", [])) if isinstance(response, dict) else []


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_a_documented_error_is_handled(
    case: Case, central: boto3.Session, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
):
    name = error_matrix.scenario_for(case.operation)
    request.node.user_properties.append(("error_matrix", case.operation))
    if name is None:
        request.node.user_properties.append(("error_matrix_reached", False))
        pytest.skip(f"no scenario reaches {case.operation} (tests/data/aws_calls_scenarios.json)")
    scenario = _scenario(name, request, central)
    scenario.prepare()
    # Waiters and retries after the injected error wait for nothing: the emulator answers at once.
    monkeypatch.setattr(botocore.waiter, "time", SimpleNamespace(sleep=lambda _seconds: None))
    monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=lambda _seconds: None))
    INJECTION.arm(case)
    try:
        outcome = scenario.run()
        fired = list(INJECTION.fired)
    finally:
        INJECTION.arm(None)
    assert fired, f"scenario {name} did not call {case.operation}: rerun `make error-matrix` to record\n{outcome}"
    problems = failures(scenario, outcome, case)
    assert not problems, f"{case.code} in {case.operation} ({name}):\n" + "\n".join(problems) + "\n" + outcome.text()


@pytest.mark.skipif(MODE != "record", reason="IKR_ERROR_MATRIX=record writes which operations each scenario reaches")
def test_record_what_each_scenario_reaches(central: boto3.Session, request: pytest.FixtureRequest):
    from tests.support.emulator import reset_emulator

    reach: dict[str, list[str]] = {}
    for name in SCENARIOS:
        reset_emulator()
        before = Counter(strict_aws.RECORD.ikr_requests)
        scenario = _scenario(name, request, central)
        scenario.prepare()
        outcome = scenario.run()
        clean = outcome.raised is None and outcome.exit_code in (0, None) and not scenario.lost(outcome)
        assert clean, f"scenario {name} fails without any error injected:\n{outcome.text()}"
        reach[name] = sorted(set(strict_aws.RECORD.ikr_requests - before))
    error_matrix.SCENARIO_CALLS.write_text(json.dumps(reach, indent=1) + "\n")
