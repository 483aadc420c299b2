"""The one source of the current time, so `--now` / `IKR_NOW` can plan ahead and tests can travel."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from central.domain.errors import SettingsError

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def fixed_clock(instant: datetime) -> Clock:
    aware = instant if instant.tzinfo else instant.replace(tzinfo=UTC)
    return lambda: aware


def clock_for(now: datetime | None) -> Clock:
    return fixed_clock(now) if now is not None else system_clock


# Rule 9: a turned clock (`--now`, IKR_NOW) makes today's keys look old and old keys look overdue.
# Against real AWS it would rotate and delete keys people still depend on, so it acts only where
# nothing real can be lost. The services whose state a turned clock changes: keys (IAM), the
# journal whose items drive deletions (DynamoDB), and the key stores (SSM, Secrets Manager).
KEY_SERVICES = {"iam": "IAM", "dynamodb": "DynamoDB", "ssm": "SSM", "secretsmanager": "Secrets Manager"}
ALLOWED_WAYS = (
    "A turned clock acts only with --dry-run (plan, report and explain change nothing and always take --now), "
    "against an emulator (AWS_ENDPOINT_URL or AWS_ENDPOINT_URL_<SERVICE> naming a local endpoint), "
    "or with IKR_ALLOW_CLOCK_OVERRIDE=1 set on purpose"
)


def lambda_function(environ: Mapping[str, str]) -> str | None:
    """The deployed Lambda function this process runs as, if any (Lambda sets these variables)."""
    name = environ.get("AWS_LAMBDA_FUNCTION_NAME")
    if name:
        return f"AWS_LAMBDA_FUNCTION_NAME={name}"
    execution = environ.get("AWS_EXECUTION_ENV", "")
    return f"AWS_EXECUTION_ENV={execution}" if execution.startswith("AWS_Lambda") else None


def clock_override_refusal(
    source: str,
    *,
    changes_keys: bool,
    allowed: bool,
    environ: Mapping[str, str],
    real_services: Callable[[], Sequence[str]],
) -> str | None:
    """Why the clock `source` ("--now" or "IKR_NOW") may not be turned here, or None when it may.

    `changes_keys` is False for a dry run and the read-only commands; `allowed` is
    IKR_ALLOW_CLOCK_OVERRIDE; `real_services` lists the KEY_SERVICES ids whose endpoint is AWS itself
    (asked only when it matters). Inside a deployed Lambda nothing unlocks it: a function there works
    on real keys by definition, and the override is a variable anyone editing it could set.
    """
    function = lambda_function(environ)
    if function is not None:
        return (
            f"{source} is refused inside a deployed Lambda ({function}): a deployed function runs on the real "
            "clock, a turned one could delete real keys early; nothing was done. Remove IKR_NOW from the "
            "function's environment (IKR_ALLOW_CLOCK_OVERRIDE does not apply there), and plan ahead from a "
            "terminal with `ikr plan --now` or `ikr rotate --dry-run --now`"
        )
    if not changes_keys or allowed:
        return None
    real = [KEY_SERVICES.get(service, service) for service in real_services()]
    if not real:
        return None
    return (
        f"{source} is refused: this run would change keys on real AWS ({', '.join(real)} "
        f"{'goes' if len(real) == 1 else 'go'} to AWS itself, not an emulator), and a turned clock would rotate "
        f"and delete keys people still use; nothing was done. {ALLOWED_WAYS}"
    )


def refuse_turned_clock(
    source: str,
    *,
    changes_keys: bool,
    allowed: bool,
    environ: Mapping[str, str],
    real_services: Callable[[], Sequence[str]],
) -> None:
    """Raise SettingsError (exit 2, or a failed invocation) when the clock may not be turned here."""
    reason = clock_override_refusal(
        source, changes_keys=changes_keys, allowed=allowed, environ=environ, real_services=real_services
    )
    if reason is not None:
        raise SettingsError(reason)
