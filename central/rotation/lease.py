"""The rotation's lease: who owns a user's rotation in progress, until when, and what a run that finds
it owned by another does (leaves the user to it, cleanly).

`begin` writes the journal item only if none exists (owner = this pass's id, lease until now +
IKR_LEASE_MINUTES on ikr's clock); every later write is conditional on still owning it. A run that
meets a live lease leaves the user alone ("in progress"); one that meets an expired lease takes it
over with a conditional write (only one can) and resumes or undoes what it finds.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from aws_lambda_powertools import Logger

from central.aws.expiry_item import ExpiryItem, State, epoch, from_epoch
from central.domain.results import Outcome, UserResult
from central.rotation.context import RotationContext

logger = Logger(service="ikr")

JOURNAL_STATES = (State.STARTED, State.KEY_CREATED, State.DELIVERED)


def lease_owner(run_id: str) -> str:
    """The id that owns leases for one pass over an account: the run's id plus a part of its own, so
    two deliveries of the same account message (same run id) never mistake each other's lease."""
    return f"{run_id or 'run'}.{uuid.uuid4().hex[:6]}"


def lease_expired(item: ExpiryItem, now: datetime) -> bool:
    return item.lease_until is None or item.lease_until <= epoch(now)


def in_progress_detail(item: ExpiryItem) -> str:
    since = from_epoch(item.started_at)
    until = f", lease until {from_epoch(item.lease_until):%Y-%m-%d %H:%M} UTC" if item.lease_until else ""
    return (
        f"rotation in progress by run {item.run_id or '?'} since {since:%Y-%m-%d %H:%M} UTC{until}; left to it "
        f"(a dead run's lease ends then, or with `ikr end-lease --account {item.account_id} --user {item.user_name}`)"
    )


class Lease:
    """This pass's hold on the rotations it starts or takes over."""

    def __init__(self, ctx: RotationContext) -> None:
        self.ctx = ctx
        self.owner = ctx.owner or lease_owner(ctx.run_id)

    def until(self) -> int:
        """A fresh lease's end, on ikr's clock now."""
        return epoch(self.ctx.time() + timedelta(minutes=self.ctx.lease_minutes))

    def end_now(self, item: ExpiryItem) -> ExpiryItem:
        """End the lease at once (the journal stays): the next run takes the user up without waiting."""
        return self.ctx.table.advance(item, lease_until=epoch(self.ctx.time()))

    def take_over(self, item: ExpiryItem) -> ExpiryItem:
        """Take an expired lease; LeaseConflict if another run did first."""
        return self.ctx.table.take_over(item, self.owner, self.until())

    def conflict(self, item: ExpiryItem, found: ExpiryItem | None, prefix: str = "") -> UserResult:
        """Another run holds or finished this rotation: this run leaves the user to it, cleanly."""
        if found is not None and found.state in JOURNAL_STATES:
            detail = prefix + in_progress_detail(found)
        elif found is not None:
            detail = f"{prefix}rotated meanwhile by run {found.run_id or '?'}; left to it"
        else:
            detail = f"{prefix}rotation finished or undone meanwhile by another run; left to it"
        logger.info(
            "rotation left to another run",
            extra={"account_id": item.account_id, "user": item.user_name, "detail": detail},
        )
        return UserResult(
            user=item.user_name,
            outcome=Outcome.IN_PROGRESS,
            detail=detail,
            old_key_id=item.old_key_id,
            new_key_id=found.new_key_id if found is not None else None,
        )
