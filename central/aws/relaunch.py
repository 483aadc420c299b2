"""The rotator's continuation of itself: an asynchronous invocation of its own function with the id
of the run to continue. Lambda queues the event and retries it (throttled while this invocation still
holds the function's one concurrent execution, it is retried for up to six hours)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from central.aws import clients
from central.aws.errors import aws_call

if TYPE_CHECKING:
    from central.aws.sessions import Session

# The event key a continuation carries; a scheduled event never has it.
CONTINUE_KEY = "ikr_continue_run"


def continue_event(run_id: str) -> dict[str, str]:
    return {CONTINUE_KEY: run_id}


def relaunch(central: Session, function: str, run_id: str) -> None:
    """Invoke `function` (name or ARN) once more, asynchronously, to continue run `run_id`. A failure is
    an `AwsError` naming the function; the next scheduled run then continues the walk."""
    with aws_call("lambda:InvokeFunction", f"function {function}"):
        clients.lambda_(central).invoke(
            FunctionName=function, InvocationType="Event", Payload=json.dumps(continue_event(run_id)).encode()
        )
