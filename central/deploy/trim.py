"""What of pip's install the Lambda artifact leaves out: files the functions never load.

Every rule below names why the file is never read inside Lambda. `tests/deploy/test_artifact_runs.py`
proves the sum of them: it imports every handler from a built artifact in a clean interpreter and
makes one call of each AWS client ikr builds against the emulator.
"""

from __future__ import annotations

import ast
from pathlib import Path, PurePosixPath

# The module whose builders make every AWS client the functions use (`_client(session, "iam")`).
CLIENTS_MODULE = Path("central/aws/clients.py")
_CLIENT_BUILDER = "_client"

# Service models live in `botocore/data/<service>/<api-version>/`; boto3's resource models (read only
# by `Session.resource()`, which ikr never calls, but kept for the same services for safety's sake) in
# `boto3/data/<service>/...`. botocore's loader reads a service's folder only when a client of that
# service is made, so the folders of the ~440 services ikr does not call are dead weight (20 MB of the
# 27 MB zip). The files at the top of `botocore/data` are read by every session and client and stay:
# endpoints.json (Session's endpoint resolver), partitions.json (the endpoint rule sets' partition
# data), sdk-default-configuration.json (Session's smart defaults), _retry.json (the retry handler).
_MODEL_FOLDERS = (("botocore", "data"), ("boto3", "data"))

# Build-machine or packaging leftovers, by path segment: `__pycache__` holds the build machine's own
# bytecode (ikr compiles its own, see bytecode.py), `bin` pip's console scripts (with the build
# machine's interpreter path in their first line; Lambda calls no scripts), and `tests`/`test` a
# dependency's own test suite (certifi ships one), never imported by the library itself.
_SKIPPED_PARTS = frozenset({"__pycache__", "bin", "tests", "test"})

# By file name, anywhere: pip's `direct_url.json` names the build machine's folders; `py.typed` is a
# marker for type checkers only.
_SKIPPED_NAMES = frozenset({"direct_url.json", "py.typed"})

# Inside a `*.dist-info` folder everything stays (METADATA and entry_points.txt for importlib.metadata,
# the licence and SBOM files the artifact redistributes) but `RECORD`, the list of every file pip
# installed with its hash: the trimmed artifact no longer matches it and nothing reads it at run time.
_DIST_INFO = ".dist-info"
_SKIPPED_IN_DIST_INFO = frozenset({"RECORD"})

# By suffix: `.pyc` from anywhere but ikr's own compile step; `.pyi` stubs are for type checkers;
# botocore's `examples-1.json` and `.rst`/`.md` pages are
# documentation (botocore.docs and boto3.docs read them only to build `help()` text); `.h` headers
# are for cffi compiling C extensions at build time, never at run time; `.js`/`.css` are Powertools'
# Swagger UI for API Gateway resolvers and urllib3's Emscripten (browser) worker: ikr serves no HTTP
# API and runs on no browser.
_SKIPPED_SUFFIXES = frozenset({".pyc", ".pyi", ".rst", ".md", ".h", ".js", ".css"})
_DOCUMENTATION_MODELS = "examples-1.json"

# Whole packages (or parts) that pip installs as dependencies but nothing in the functions imports:
# dnspython (`dns`) serves email-validator's deliverability (MX) checks only, which ikr and pydantic
# turn off (`check_deliverability=False`); cffi's Python half and pycparser parse C declarations for
# cffi's compile and `dlopen` modes, while cryptography's prebuilt bindings need only the compiled
# `_cffi_backend` module (kept); `pydantic.v1` is pydantic's V1-compatibility namespace, loaded by
# `import pydantic.v1` alone; Powertools' `event_handler` routes HTTP and agent events (API Gateway,
# ALB, AppSync, Bedrock), and ikr's functions are invoked by schedules, SQS and DynamoDB streams.
_UNUSED_PACKAGES = (("dns",), ("cffi",), ("pycparser",), ("pydantic", "v1"), ("aws_lambda_powertools", "event_handler"))


def runtime_services(source_root: Path) -> frozenset[str]:
    """The AWS services whose clients the functions build: the service names of every
    `_client(session, "<service>")` call in central/aws/clients.py, so a new builder there is kept in
    the artifact without a second list to update."""
    path = source_root / CLIENTS_MODULE
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    services = {
        node.args[1].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == _CLIENT_BUILDER
        and len(node.args) == 2  # (session, service)
        and isinstance(node.args[1], ast.Constant)
        and isinstance(node.args[1].value, str)
    }
    if not services:
        raise ValueError(f"no {_CLIENT_BUILDER}(session, 'service') calls found in {path}")
    return frozenset(services)


# Single files no run reads: dateutil's bundled time-zone database (read by `dateutil.tz.gettz` only
# for a zone name the system lacks; botocore parses AWS's timestamps into `tzutc`/`tzlocal`, ikr's own
# code uses `datetime.UTC`); botocore's CA bundle (botocore takes `certifi.where()` when certifi is
# installed, and it is, for requests).
_UNREAD_FILES = frozenset({"dateutil/zoneinfo/dateutil-zoneinfo.tar.gz", "botocore/cacert.pem"})

# charset_normalizer's `md` and `cd` ship twice: as Python and as mypyc-compiled accelerators (`.so`)
# of the same modules. Without the `.so` the Python ones load: the same answers, a little slower, for
# text ikr never asks requests to guess the encoding of (Mailgun answers JSON).
_ACCELERATED_PACKAGE = "charset_normalizer"


def kept(relative: str, services: frozenset[str]) -> bool:
    """Whether a file of pip's install (a path relative to its target folder) goes into the artifact."""
    path = PurePosixPath(relative)
    parts = path.parts
    if _SKIPPED_PARTS.intersection(parts[:-1]) or path.name in _SKIPPED_NAMES:
        return False
    if parts[0].endswith(_DIST_INFO):
        return path.name not in _SKIPPED_IN_DIST_INFO
    if (
        path.suffix in _SKIPPED_SUFFIXES
        or path.name == _DOCUMENTATION_MODELS
        or relative in _UNREAD_FILES
        or (parts[0] == _ACCELERATED_PACKAGE and path.suffix == ".so")
    ):
        return False
    if any(parts[: len(package)] == package for package in _UNUSED_PACKAGES):
        return False
    for folder in _MODEL_FOLDERS:
        inside = parts[: len(folder)] == folder and len(parts) > len(folder) + 1
        if inside and parts[len(folder)] not in services:
            return False
    return True
