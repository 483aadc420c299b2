"""Ending a rotation lease by hand: an operator who knows the run that holds it is dead (a killed
`ikr rotate`, a Lambda that timed out) need not wait for IKR_LEASE_MINUTES. The next run then
resumes or undoes that rotation, with the same rules as after an expired lease."""

from __future__ import annotations

from central.aws.expiry_item import ExpiryItem
from central.aws.expiry_table import ExpiryTable, LeaseConflict
from central.domain.errors import UsageError
from central.rotation.lease import JOURNAL_STATES


def end_lease(table: ExpiryTable, account_id: str, user: str, run: str | None = None) -> list[ExpiryItem]:
    """End the leases on the user's rotations in progress (only `run`'s, if given); the items ended."""
    journal = [item for item in table.for_user(account_id, user) if item.state in JOURNAL_STATES]
    if run is not None:
        journal = [item for item in journal if item.run_id == run or (item.run_id or "").startswith(f"{run}.")]
    if not journal:
        which = f" held by run {run}" if run else ""
        raise UsageError(f"account {account_id} user {user}: no rotation in progress{which}; nothing to end")
    ended = []
    for item in journal:
        try:
            ended.append(table.end_lease(item, 0))  # epoch 0: expired on every clock, planned or real
        except LeaseConflict as exc:
            raise UsageError(
                f"{item.where}: the rotation changed while its lease was being ended (now run "
                f"{exc.found.run_id if exc.found else '?'}); look again"
            ) from None
    return ended
