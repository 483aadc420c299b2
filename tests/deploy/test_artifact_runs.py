"""The lean artifact still holds all the functions load: every handler imported from the built zip in a
clean interpreter, and one call of each AWS client ikr builds, against a moto server.

The artifact is built for this machine (its Python, its architecture) since the Lambda platform's
arm64 binaries cannot run here; the trimming rules and the bytecode step are the same. "Clean" means
`-I -S`: no site-packages of the venv, no PYTHON* variables, no current folder on the path; only the
unzipped artifact and the standard library, as on Lambda.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from central.deploy import artifact, bytecode, native, template
from tests.support.servers import MotoServer

HANDLERS = ("rotator", "account_worker", "destructor", "reporter")
_ARCHITECTURE = {"x86_64": "x86_64", "aarch64": "arm64"}

# Runs inside the clean interpreter: argv[1] is the unzipped artifact, argv[2] the standard library.
_PROBE = """
import importlib.machinery, json, sys
root, stdlib = sys.argv[1], sys.argv[2]
sys.path.insert(0, root)
compiled = []
to_code = importlib.machinery.SourceFileLoader.source_to_code
def source_to_code(self, data, path, *args, **kwargs):
    compiled.append(str(path))  # a module compiled from source: its pyc was missing or ignored
    return to_code(self, data, path, *args, **kwargs)
importlib.machinery.SourceFileLoader.source_to_code = source_to_code

import importlib
handlers = {name: callable(importlib.import_module(f"handlers.{name}").handler) for name in sys.argv[3:]}

from central.aws import clients as aws
session = aws.default_session()
iam_users = [u for page in aws.iam(session).get_paginator("list_users").paginate() for u in page["Users"]]
calls = {
    "iam": len(iam_users),
    "sts": aws.sts(session).get_caller_identity()["Account"],
    "organizations": aws.organizations(session).create_organization(FeatureSet="ALL")["Organization"]["Id"],
    "ssm": aws.ssm(session).put_parameter(Name="/ikr/probe", Value="x", Type="SecureString")["Version"],
    "dynamodb": aws.dynamodb(session).list_tables()["TableNames"],
    "dynamodbstreams": aws.dynamodbstreams(session).list_streams()["Streams"],
    "ses": aws.ses(session).list_identities()["Identities"],
    "s3": aws.s3(session).create_bucket(Bucket="ikr-probe")["ResponseMetadata"]["HTTPStatusCode"],
    "sqs": aws.sqs(session).create_queue(QueueName="ikr-probe")["QueueUrl"].rsplit("/", 1)[-1],
    "secretsmanager": aws.secretsmanager(session).create_secret(Name="ikr/probe", SecretString="x")["Name"],
    "lambda": len(aws.lambda_(session).list_functions()["Functions"]),
}
elsewhere = sorted(
    name for name, module in list(sys.modules.items())
    if getattr(module, "__file__", None) and not module.__file__.startswith((root, stdlib))
)
print(json.dumps({"handlers": handlers, "calls": calls, "compiled": compiled, "elsewhere": elsewhere}))
"""


@pytest.fixture(scope="module")
def unzipped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("artifact")
    runtime = f"python{sys.version_info.major}.{sys.version_info.minor}"
    compiler = bytecode.find_compiler(runtime)
    assert compiler is not None  # this interpreter is one
    built = artifact.build(
        template.REPO_ROOT,
        work / "ikr.zip",
        runtime,
        _ARCHITECTURE[platform.machine()],
        artifact.runtime_requirements(template.REPO_ROOT / "pyproject.toml"),
        [f"--cache-dir={template.REPO_ROOT / '.cache' / 'pip'}"],
        compiler=compiler,
        stripper=native.find_stripper(),  # as `ikr package` builds it: the stripped libraries must still load
    )
    with zipfile.ZipFile(built.path) as archive:
        archive.extractall(work / "unzipped")
    return work / "unzipped"


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    server = MotoServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.slow  # pip installs the real dependency set (about 30 s with a warm cache)
def test_every_handler_and_client_works_from_the_artifact_alone(
    unzipped: Path, moto: MotoServer, tmp_path: Path
) -> None:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),  # no ~/.aws of the machine
        "AWS_ENDPOINT_URL": moto.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    stdlib = sysconfig.get_paths()["stdlib"]
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", _PROBE, str(unzipped), stdlib, *HANDLERS],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["handlers"] == dict.fromkeys(HANDLERS, True)
    assert set(result["calls"]) == {
        "iam",
        "sts",
        "organizations",
        "ssm",
        "dynamodb",
        "dynamodbstreams",
        "ses",
        "s3",
        "sqs",
        "secretsmanager",
        "lambda",
    }
    assert result["calls"]["sqs"] == "ikr-probe"
    assert result["elsewhere"] == []  # nothing came from outside the artifact and the standard library
    assert result["compiled"] == []  # every module came from the artifact's pycs
