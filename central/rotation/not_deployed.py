"""An opted-in account where ikr's access was never deployed: the Organization's management account.

Service-managed StackSets never deploy the member role to the management account. A run that is refused
there is told so once, as the account's reason ("not deployed: run `ikr deploy --management-account`"),
not as a failure of every run: the account's row says what to do, the run's exit code and the
administrator's failure notice stay for what broke. Shared by the rotation run and the report.
"""

from __future__ import annotations

from central.aws.errors import AwsAccessDenied
from central.domain.errors import AccountAccessError, IkrError
from central.domain.model import Account

# AssumeRole answers AccessDenied alike for a role that is not there and for one whose trust refuses
# ikr (another ExternalId or central account): the reason names both, the likelier first.
MEMBER_ROLE_MISSING = (
    "not deployed: StackSets never put the member role in the management account; "
    "run `ikr deploy --management-account` with its credentials (already done? then the role there does "
    "not trust ikr: compare its ExternalId and trusted central roles with the member StackSet's)"
)
CENTRAL_NOT_MANAGED = (
    "not deployed: ikr works this management account with its own credentials, which may not read its "
    "users; deploy the central stack with --parameter ManageCentralAccount=true"
)


def not_deployed_reason(account: Account, exc: IkrError, central_account_id: str) -> str | None:
    """What to tell of a refused management account; None for any other account or failure (a
    throttle or an outage is a failure wherever it happens)."""
    if not account.management:
        return None
    if isinstance(exc, AccountAccessError):  # AssumeRole refused: the role is not there (or trusts not ikr)
        return MEMBER_ROLE_MISSING if isinstance(exc.__cause__, AwsAccessDenied) else None
    # IAM refusing the central account's own Lambda roles (not the table or the queue: those are ikr's own).
    if account.id == central_account_id and isinstance(exc, AwsAccessDenied) and exc.operation.startswith("iam:"):
        return CENTRAL_NOT_MANAGED
    return None
