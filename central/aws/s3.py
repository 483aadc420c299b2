"""One S3 bucket of the central account: the reporter's output and `ikr deploy`'s artifacts.

Failures are `AwsError`s naming the object (`s3://bucket/key`); a bucket that does not exist is
`AwsNotFound`, so callers can say which setting names it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import ClientError

from central.aws.errors import AwsError, AwsNotFound, aws_call, translate

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class Bucket:
    def __init__(self, s3: S3Client, name: str) -> None:
        self._s3 = s3
        self.name = name

    def uri(self, key: str) -> str:
        return f"s3://{self.name}/{key}"

    def put(self, key: str, body: bytes, content_type: str, cache_control: str = "no-cache") -> None:
        with aws_call("s3:PutObject", self.uri(key)):
            self._s3.put_object(
                Bucket=self.name, Key=key, Body=body, ContentType=content_type, CacheControl=cache_control
            )

    def has(self, key: str) -> bool:
        """Whether the object exists (HeadObject). A HEAD answer has no body: a missing bucket looks like
        a missing object here, and shows when the object is written. A caller without s3:ListBucket on
        the bucket gets 403 for a missing object, as for one it may not read: `AwsAccessDenied`."""
        try:
            with aws_call("s3:HeadObject", self.uri(key)):
                self._s3.head_object(Bucket=self.name, Key=key)
        except AwsNotFound:
            return False
        return True

    def upload(self, path: Path, key: str) -> None:
        """A file of any size (multipart past the transfer threshold)."""
        try:
            with aws_call("s3:PutObject", self.uri(key)):
                self._s3.upload_file(str(path), self.name, key)
        except S3UploadFailedError as exc:  # the transfer manager wraps AWS's answer in its own error
            answer = exc.__cause__ or exc.__context__
            if isinstance(answer, ClientError):  # AWS's own answer: translated as any other call's
                raise translate(answer, "s3:PutObject", self.uri(key)) from exc
            raise AwsError("s3:PutObject", self.uri(key), str(exc), code=type(exc).__name__) from exc
