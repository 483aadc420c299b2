"""For entry points: AWS failures that reached them untranslated become ikr's errors, so an entry point
catches ikr's errors alone and never names a botocore exception.

Missing credentials are a settings problem (the CLI's exit 2), whether they reach the entry point raw
or already translated by an adapter's `aws_call` (its `AwsError` keeps the botocore error as cause).
Any other botocore failure that no adapter translated becomes an `IkrError` with AWS's own words.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from central.aws.errors import AwsError
from central.domain.errors import IkrError, SettingsError, aws_reason

NO_CREDENTIALS = "no AWS credentials found (set AWS_PROFILE or the AWS_* variables)"


@contextmanager
def untranslated_aws_failures() -> Iterator[None]:
    try:
        yield
    except NoCredentialsError:
        raise SettingsError(NO_CREDENTIALS) from None
    except AwsError as exc:
        if isinstance(exc.__cause__, NoCredentialsError):
            raise SettingsError(NO_CREDENTIALS) from None
        raise
    except (ClientError, BotoCoreError) as exc:
        raise IkrError(aws_reason(exc)) from exc
