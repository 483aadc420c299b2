"""`ikr package`: a reproducible zip with the code at its root and pip's dependencies for Lambda's platform.

The fast test installs one small wheel made here (pip runs for real, with the Lambda platform flags,
from a local folder: no network); the slow one builds the real dependency set from PyPI (or pip's cache).
"""

from __future__ import annotations

import base64
import hashlib
import sys
import zipfile
from pathlib import Path

import pytest

from central.deploy import artifact, template
from central.deploy.command import build_artifact


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
    for package in ("boto3/", "botocore/", "aws_lambda_powertools/", "pydantic_settings/", "email_validator/"):
        assert any(n.startswith(package) for n in names), package
    assert unpacked < 250_000_000  # Lambda's limit for an unpacked function
    assert "boto3==" in lock
