"""`ikr package`: a reproducible zip with the code at its root and pip's dependencies for Lambda's platform.

The fast test installs one small wheel made here (pip runs for real, with the Lambda platform flags,
from a local folder: no network); the slow one builds the real dependency set from PyPI (or pip's cache).
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from central.deploy import artifact, bytecode, template, trim
from central.deploy.packaging import build_artifact
from central.domain.errors import UsageError

HOST_RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"
SERVICES = frozenset(
    {
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
        "events",  # EventBridge PutEvents: the lifecycle events (central/notify/event_bus.py)
    }
)


def make_wheel(folder: Path, name: str = "tinydep", version: str = "1.0") -> Path:
    """A minimal pure-Python wheel: one module, METADATA, WHEEL and RECORD."""
    files = {
        f"{name}/__init__.py": b"VALUE = 42\n",
        f"{name}-{version}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{name}-{version}.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{name}-{version}.dist-info/RECORD,,")
    files[f"{name}-{version}.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel


def offline(wheels: Path) -> list[str]:
    return ["--no-index", f"--find-links={wheels}"]


def test_two_builds_are_byte_identical_and_hold_code_and_dependencies(tmp_path: Path) -> None:
    make_wheel(tmp_path)
    first = artifact.build(
        template.REPO_ROOT, tmp_path / "a.zip", "python3.12", "arm64", ["tinydep==1.0"], offline(tmp_path)
    )
    second = artifact.build(
        template.REPO_ROOT, tmp_path / "b.zip", "python3.12", "arm64", ["tinydep==1.0"], offline(tmp_path)
    )
    assert first.sha256 == second.sha256
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        names = archive.namelist()
        infos = archive.infolist()
        lock = archive.read(artifact.LOCK_NAME).decode()
    for wanted in ("handlers/rotator.py", "handlers/destructor.py", "central/settings.py", "tinydep/__init__.py"):
        assert wanted in names
    assert names == sorted(names)
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc") or name.startswith("bin/")]
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {info.external_attr >> 16 for info in infos} == {0o100644}
    assert lock == "tinydep==1.0\n"
    assert first.key == f"ikr/lambda-{first.sha256[:20]}.zip"


def test_pip_is_asked_for_the_templates_platform(tmp_path: Path) -> None:
    command = artifact.pip_command("python3.12", "arm64", tmp_path / "t", tmp_path / "r.txt")
    assert command[:3] == [sys.executable, "-m", "pip"]
    joined = " ".join(command)
    for wanted in (
        "--platform manylinux2014_aarch64",
        "--python-version 3.12",
        "--implementation cp",
        "--only-binary=:all:",
        "--no-compile",
    ):
        assert wanted in joined
    assert "manylinux2014_x86_64" in " ".join(artifact.pip_command("python3.12", "x86_64", tmp_path, tmp_path))


def test_runtime_requirements_come_from_pyproject() -> None:
    requirements = artifact.runtime_requirements(template.REPO_ROOT / "pyproject.toml")
    names = {requirement.split(">")[0].split("[")[0].split("=")[0] for requirement in requirements}
    assert {"boto3", "pydantic", "cryptography", "aws-lambda-powertools"} <= names
    assert "moto[server]>=5.1,<6" not in requirements  # dev dependencies stay out


def test_a_failing_pip_is_reported(tmp_path: Path) -> None:
    with pytest.raises(artifact.PackagingError, match="pip could not install"):
        artifact.build(
            template.REPO_ROOT, tmp_path / "a.zip", "python3.12", "arm64", ["no-such-dist==9"], offline(tmp_path)
        )


def test_the_kept_services_are_those_the_client_builders_make() -> None:
    assert trim.runtime_services(template.REPO_ROOT) == SERVICES


@pytest.mark.parametrize(
    ("path", "wanted"),
    [
        ("botocore/data/iam/2010-05-08/service-2.json.gz", True),
        ("botocore/data/iam/2010-05-08/paginators-1.json", True),
        ("botocore/data/s3/2006-03-01/service-2.sdk-extras.json", True),
        ("botocore/data/iam/2010-05-08/examples-1.json", False),  # docstring examples
        ("botocore/data/ec2/2016-11-15/service-2.json.gz", False),  # a service ikr does not call
        ("botocore/data/endpoints.json", True),
        ("botocore/data/partitions.json", True),
        ("botocore/data/sdk-default-configuration.json", True),
        ("botocore/data/_retry.json", True),
        ("boto3/data/s3/2006-03-01/resources-1.json", True),
        ("boto3/data/ec2/2016-11-15/resources-1.json", False),
        ("boto3/examples/s3.rst", False),
        ("botocore/client.py", True),
        ("botocore/docs/docstring.py", True),  # botocore.client imports it
        ("cryptography/hazmat/bindings/_rust/__init__.pyi", False),
        ("pydantic/py.typed", False),
        ("certifi/tests/test_certify.py", False),
        ("certifi/cacert.pem", True),
        ("botocore/cacert.pem", False),  # botocore takes certifi's
        ("dateutil/zoneinfo/dateutil-zoneinfo.tar.gz", False),
        ("dateutil/zoneinfo/__init__.py", True),
        ("charset_normalizer/md.cpython-312-aarch64-linux-gnu.so", False),  # its Python twin loads instead
        ("charset_normalizer/md.py", True),
        ("botocore/__pycache__/client.cpython-311.pyc", False),
        ("bin/jp.py", False),
        ("pydantic/main.py", True),
        ("pydantic/v1/main.py", False),
        ("dns/resolver.py", False),
        ("cffi/api.py", False),
        ("_cffi_backend.cpython-312-aarch64-linux-gnu.so", True),
        ("aws_lambda_powertools/event_handler/api_gateway.py", False),
        ("aws_lambda_powertools/utilities/batch/base.py", True),
        ("idna-3.20.dist-info/licenses/LICENSE.md", True),  # licences stay, whatever their suffix
        ("idna-3.20.dist-info/METADATA", True),
        ("idna-3.20.dist-info/RECORD", False),
        ("idna-3.20.dist-info/direct_url.json", False),
    ],
)
def test_what_the_artifact_leaves_out(path: str, wanted: bool) -> None:
    assert trim.kept(path, SERVICES) is wanted


def _pyc_flags(data: bytes) -> int:
    return int.from_bytes(data[4:8], "little")  # PEP 552: bit 0 hash-based, bit 1 check the source


def test_pycs_for_the_runtimes_python_are_reproducible_and_loaded_without_the_source(tmp_path: Path) -> None:
    make_wheel(tmp_path)
    compiler = bytecode.find_compiler(HOST_RUNTIME)
    assert compiler is not None  # this interpreter is one
    built = [
        artifact.build(
            template.REPO_ROOT,
            tmp_path / name,
            HOST_RUNTIME,
            "x86_64",
            ["tinydep==1.0"],
            offline(tmp_path),
            compiler=compiler,
        )
        for name in ("a.zip", "b.zip")
    ]
    assert built[0].sha256 == built[1].sha256
    assert built[0].bytecode == compiler.description
    tag = sys.implementation.cache_tag
    with zipfile.ZipFile(built[0].path) as archive:
        names = set(archive.namelist())
        for module in ("handlers/rotator", "central/settings", "handlers/__init__"):  # ikr's own: source kept
            folder, _, stem = module.rpartition("/")
            pyc = f"{folder}/__pycache__/{stem}.{tag}.pyc"
            assert pyc in names
            assert f"{module}.py" in names
            assert _pyc_flags(archive.read(pyc)) == 0b01  # hash-based, unchecked: no mtime, no source read
        # A dependency ships as bytecode only, where its source was.
        assert "tinydep/__init__.pyc" in names
        assert not [n for n in names if n.startswith("tinydep/") and n.endswith(".py")]
        assert _pyc_flags(archive.read("tinydep/__init__.pyc")) == 0b01
        archive.extractall(tmp_path / "unzipped")
    # The source is never read: an import still gets the compiled module after the source is broken.
    (tmp_path / "unzipped" / "handlers" / "__init__.py").write_text("raise RuntimeError('source read')\n")
    probe = (
        f"import sys; sys.path.insert(0, {str(tmp_path / 'unzipped')!r}); import handlers, tinydep; "
        "print(tinydep.VALUE)"
    )
    done = subprocess.run([sys.executable, "-I", "-S", "-B", "-c", probe], capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout.strip()) == (0, "42"), done.stderr


def test_a_python_of_another_version_is_refused_and_none_found_means_no_bytecode() -> None:
    with pytest.raises(UsageError, match=r"is cpython-3\d+; the Lambda runtime python3.99 loads cpython-399"):
        bytecode.find_compiler("python3.99", sys.executable)
    with pytest.raises(UsageError, match="does not run"):
        bytecode.find_compiler("python3.99", "/no/such/python")
    assert bytecode.find_compiler("python3.99") is None
    assert bytecode.cache_tag("python3.12") == "cpython-312"


@pytest.mark.slow  # pip resolves and unpacks ~60 MB of wheels: 20 s with a warm cache
def test_real_artifact_has_linux_wheels_for_the_runtime(tmp_path: Path) -> None:
    cache = template.REPO_ROOT / ".cache" / "pip"
    built = build_artifact(tmp_path / "ikr.zip", None, [f"--cache-dir={cache}"])
    with zipfile.ZipFile(built.path) as archive:
        names = archive.namelist()
        unpacked = sum(info.file_size for info in archive.infolist())
        lock = archive.read(artifact.LOCK_NAME).decode()
    assert any(n.startswith("pydantic_core/_pydantic_core.cpython-312-aarch64-linux-gnu") for n in names)
    assert any(n.startswith("cryptography/hazmat/bindings/_rust.abi3.so") for n in names)
    for package in ("boto3/", "botocore/", "aws_lambda_powertools/", "email_validator/"):
        assert any(n.startswith(package) for n in names), package
    assert unpacked < 250_000_000  # Lambda's limit for an unpacked function
    assert "boto3==" in lock
    models = {name.split("/")[2] for name in names if name.startswith("botocore/data/") and name.count("/") > 2}
    assert models == SERVICES
    if built.bytecode is not None:  # an interpreter of the runtime's version was found
        assert "handlers/__pycache__/rotator.cpython-312.pyc" in names
        assert "botocore/client.pyc" in names  # a dependency: bytecode only, where its source was
        assert "botocore/client.py" not in names
    assert not [n for n in names if "__pycache__" in n and ".cpython-312." not in n]
