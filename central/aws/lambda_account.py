"""The deploying account's Lambda concurrency, as `ikr deploy` checks it before creating the stack.

GetAccountSettings answers the account's concurrency quota (`ConcurrentExecutions`: 1,000 by default,
as little as 10 in a new account) and what is not reserved by any function
(`UnreservedConcurrentExecutions`). AWS keeps at least 100 unreserved: a reservation that would leave
less fails the stack. Failures are `AwsError`s naming the call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from central.aws.errors import aws_call

# What AWS never lets reservations take: the account's last 100 concurrent executions.
UNRESERVED_MINIMUM = 100


@dataclass(frozen=True)
class Concurrency:
    limit: int  # the account's concurrency quota in this region
    unreserved: int  # of it, what no function has reserved

    @property
    def reservable(self) -> int:
        """What functions may still reserve between them."""
        return max(0, self.unreserved - UNRESERVED_MINIMUM)


class LambdaAccount:
    def __init__(self, client: Any, region: str, account_id: str | None = None) -> None:
        """`client`: a Lambda client (no type stubs for it here; tests stub one)."""
        self._lambda = client
        self._region = region
        self._account = f"account {account_id}'s" if account_id else "the account's"

    def concurrency(self) -> Concurrency:
        with aws_call("lambda:GetAccountSettings", f"{self._account} Lambda quota in {self._region}"):
            limit = self._lambda.get_account_settings()["AccountLimit"]
        return Concurrency(
            limit=int(limit["ConcurrentExecutions"]),
            unreserved=int(limit["UnreservedConcurrentExecutions"]),
        )
