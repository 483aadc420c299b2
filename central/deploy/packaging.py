"""`ikr package`: the Lambda artifact built for the template's runtime and architecture, and the zip
`ikr deploy` uploads (given with --artifact, or built then)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel

from central.deploy import artifact, bytecode, native, template
from central.domain.errors import UsageError

DEFAULT_ARTIFACT = Path("dist/ikr-lambda.zip")


def add_package_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", type=Path, default=DEFAULT_ARTIFACT, help="zip to write (default: %(default)s)")
    parser.add_argument(
        "--requirements",
        type=Path,
        help="install exactly these requirements (e.g. a previous artifact's ikr-requirements.txt) "
        "instead of pyproject's runtime dependencies",
    )
    parser.add_argument(
        "--pip-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument for pip (repeatable), e.g. --pip-arg=--find-links=wheels",
    )
    parser.add_argument(
        "--python",
        metavar="INTERPRETER",
        help="interpreter of the Lambda runtime's Python version that compiles the artifact's .pyc files "
        "(default: this one, the runtime's pythonX.Y on PATH or a pyenv install of it, if any is; "
        "with none the artifact has no .pyc and every cold start compiles the code)",
    )


def package(args: argparse.Namespace) -> int:
    built = build_artifact(args.output, args.requirements, args.pip_arg, args.python)
    print(
        f"artifact {built.path} sha256 {built.sha256} ({built.entries} files, {built.size / 1e6:.1f} MB) "
        f"for {built.runtime} {built.architecture}"
    )
    print(bytecode_line(built))
    print(native_line(built))
    return 0


def bytecode_line(built: artifact.Artifact) -> str:
    if built.bytecode is not None:
        return f"bytecode: {bytecode.cache_tag(built.runtime)} .pyc compiled by {built.bytecode}"
    return (
        f"bytecode: none - no {built.runtime} interpreter found (give one with --python): the artifact "
        "works, but every cold start compiles the modules it imports (about twice the import time)"
    )


def native_line(built: artifact.Artifact) -> str:
    if built.native is not None:
        return f"native libraries: {built.native}"
    return (
        "native libraries: not stripped - no llvm-strip found (Debian: apt-get install llvm): the artifact works, "
        "about 1.2 MB larger"
    )


def build_artifact(
    output: Path, requirements: Path | None, pip_extra: Sequence[str], python: str | None = None
) -> artifact.Artifact:
    runtime, architecture = template.lambda_platform(template.load(template.CENTRAL_TEMPLATE))
    compiler = bytecode.find_compiler(runtime, python)
    if requirements is not None:
        try:
            wanted = [line.strip() for line in requirements.read_text(encoding="utf-8").splitlines() if line.strip()]
        except OSError as exc:
            raise UsageError(f"--requirements {requirements}: {exc.strerror}") from None
    else:
        wanted = artifact.runtime_requirements(template.REPO_ROOT / "pyproject.toml")
    return artifact.build(
        template.REPO_ROOT,
        output,
        runtime,
        architecture,
        wanted,
        pip_extra,
        compiler=compiler,
        stripper=native.find_stripper(),
    )


class Code(BaseModel):
    """The artifact a deployment uploads: its file and its digest."""

    path: Path
    sha256: str


def code_to_deploy(path: Path | None) -> Code:
    """`--artifact`'s zip, or one built now (`ikr package`'s defaults)."""
    if path is None:
        built = build_artifact(DEFAULT_ARTIFACT, None, [])
        print(f"artifact {built.path} sha256 {built.sha256} built")
        print(bytecode_line(built))
        print(native_line(built))
        return Code(path=built.path, sha256=built.sha256)
    if not path.is_file():
        raise UsageError(f"--artifact {path}: no such file (build one with `ikr package`)")
    return Code(path=path, sha256=artifact.sha256_of(path))
