"""Deployment tests: templates, `ikr package`, `ikr deploy` against moto, permissions and trust."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

# Offline clients answered by botocore's Stubber, for the checks `ikr deploy` makes (test_deploy_checks.py).
from tests.unit.test_aws_edge_adapters import session, stubbed  # noqa: F401 - fixtures


def tiny_artifact(path: Path) -> Path:
    """A stand-in Lambda zip: moto stores function code but never runs it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handlers/__init__.py", "")
        archive.writestr("handlers/rotator.py", "def handler(event, context):\n    return {}\n")
    path.write_bytes(buffer.getvalue())
    return path
