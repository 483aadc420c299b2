"""A postponed rotation asks for the retry run: the account is marked for RETRY_AFTER_MINS from now.

A rotation is postponed when its delivery was refused (the new key removed, the old one kept: the
user is still due), uncertain or failed again on resuming (the journal and the pending pair stay
for the same key to be sent again), or when CreateAccessKey's answer was lost. The mark holds the
account's scope as this pass had it, so the retry run works the account again with the same
policy and no Organizations call (`central.rotation.retry`). It is only a hint: a mark that cannot
be written is logged, and the daily run finds the user as before.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger

from central.aws.expiry_item import epoch
from central.domain.errors import IkrError
from central.domain.model import Account, Frozen
from central.domain.scope import AccountScope, Days
from central.domain.sources import OptIn
from central.rotation.context import RotationContext

logger = Logger(service="ikr")


class RetryScope(Frozen):
    """The account's scope as the postponing pass had it (the mark's `scope`, JSON)."""

    account: Account
    opt_in: OptIn
    rotate_after: Days
    delete_after: Days

    @classmethod
    def of(cls, scope: AccountScope) -> RetryScope:
        return cls(
            account=scope.account,
            opt_in=scope.opt_in,
            rotate_after=scope.rotate_after,
            delete_after=scope.delete_after,
        )

    def scope(self) -> AccountScope:
        return AccountScope(
            account=self.account,
            opt_in=self.opt_in,
            rotate_after=self.rotate_after,
            delete_after=self.delete_after,
        )


def postpone(ctx: RotationContext, user: str, reason: str) -> None:
    """Mark the account for the retry run at RETRY_AFTER_MINS from now (on ikr's clock)."""
    account_id = ctx.scope.account.id
    retry_at = ctx.time() + ctx.retry_after
    try:
        ctx.table.retries.mark(account_id, epoch(retry_at), RetryScope.of(ctx.scope).model_dump_json(), reason)
    except IkrError as exc:
        logger.error(
            "retry mark not written; the daily run takes the user up",
            extra={"account_id": account_id, "user": user, "reason": str(exc)},
        )
        return
    logger.info(
        "rotation postponed to the retry run",
        extra={"account_id": account_id, "user": user, "retry_at": retry_at.isoformat(), "reason": reason},
    )
