"""`ikr deploy`'s uploads to the artifact bucket, with what S3's refusals mean in words.

Keys are named by content, so an object already there is the same bytes and is not sent again. Real S3
answers HeadObject with 403, not 404, for a missing object when the caller may not list the bucket
(s3:ListBucket), and with 403 for an object it may not read (s3:GetObject): ikr cannot tell the two
apart, so it says which permissions would let it, and uploads (the same bytes again, at worst). A
refused upload ends the deploy naming s3:PutObject, never with a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from central.aws.errors import AwsAccessDenied
from central.aws.s3 import Bucket
from central.domain.errors import IkrError

Printer = Callable[[str], None]


class UploadRefused(IkrError):
    """The deploying identity may not write the artifact bucket."""


def upload(bucket: Bucket, key: str, path: Path, out: Printer = print, partition: str = "aws") -> None:
    """`path` to `key` unless it is there already; `partition` names the bucket's ARN in messages."""
    arn = f"arn:{partition}:s3:::{bucket.name}"
    try:
        present = bucket.has(key)
    except AwsAccessDenied:
        out(
            f"{bucket.uri(key)}: HeadObject was refused (403), so ikr cannot tell whether it is there: "
            f"without s3:ListBucket on {arn} S3 answers 403 for a missing object, and "
            f"without s3:GetObject on {arn}/ikr/* for one that exists; uploading it"
        )
        present = False
    if present:
        return
    try:
        bucket.upload(path, key)
    except AwsAccessDenied as exc:
        raise UploadRefused(
            f"cannot upload {path} to {bucket.uri(key)}: {exc.reason}. The deploying identity needs "
            f"s3:PutObject on {arn}/ikr/* (and, so that unchanged files are not sent again, "
            f"s3:GetObject there and s3:ListBucket on {arn})"
        ) from exc
    out(f"uploaded {bucket.uri(key)}")
