"""A fan-out run that does not fit one Lambda invocation: stop walking in time, go on in the next.

The rotator asks the invocation's remaining time after each page of the walk; with less than
`STOP_WITH_MS_LEFT` left it saves the walk's position (`central.aws.walk_position`) and invokes its own
function again with the run's id (`central.aws.relaunch`), which continues the walk where it stopped.
Were that invocation lost, the next scheduled run finds the unfinished walk and continues it
(`central.rotation.fanout.CONTINUE_WITHIN_HOURS`): no account is skipped, none queued twice in a run.
"""

from __future__ import annotations

from typing import Any, Protocol

from aws_lambda_powertools import Logger

from central.aws.errors import AwsError
from central.aws.relaunch import CONTINUE_KEY, continue_event, relaunch
from central.aws.walk_position import WalkPositions, WalkTaken
from central.collaborators import Services
from central.rotation.account_queue import AccountQueue
from central.rotation.fanout import QueuedRun, queue_run

logger = Logger(service="ikr")

__all__ = ["STOP_WITH_MS_LEFT", "continue_event", "continuing", "fan_out"]

# No new page of the walk is started with less than this left. A page is one Organizations call and
# one SQS batch call per 10 accounts; throttled, botocore's standard mode backs off up to 20 s a retry
# and several may follow. Three minutes lets the page under way and the position's write finish.
STOP_WITH_MS_LEFT = 180_000


class LambdaContextLike(Protocol):
    @property
    def function_name(self) -> str: ...

    def get_remaining_time_in_millis(self) -> int: ...


def continuing(event: Any) -> str | None:
    """The id of the run an invocation continues (its own re-invocation), or None (a scheduled run)."""
    run_id = event.get(CONTINUE_KEY) if isinstance(event, dict) else None
    return run_id if isinstance(run_id, str) and run_id else None


def fan_out(
    services: Services,
    queue: AccountQueue,
    positions: WalkPositions,
    context: LambdaContextLike,
    continue_run: str | None = None,
) -> QueuedRun:
    """One invocation of a fan-out run, stopped in time, its continuation invoked when it stopped short."""
    try:
        queued = queue_run(
            services,
            queue,
            positions,
            keep_going=lambda: context.get_remaining_time_in_millis() > STOP_WITH_MS_LEFT,
            continue_run=continue_run,
        )
    except WalkTaken as exc:
        logger.warning("walk left to the invocation that took it over", reason=str(exc))
        return QueuedRun(run_id=continue_run or "-", now=services.clock(), part=0)
    if not queued.finished:
        try:
            # The plain name: the unqualified function, which the role may invoke (stacksets/central.yaml).
            relaunch(services.central, context.function_name, queued.run_id)
        except AwsError as exc:
            logger.error(
                "could not invoke the rotator again: the next scheduled run continues the walk",
                run_id=queued.run_id,
                reason=str(exc),
            )
    return queued
