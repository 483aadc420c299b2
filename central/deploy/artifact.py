"""`ikr package`: one reproducible zip with ikr's code and its dependencies for the Lambda runtime.

Dependencies come from pyproject's runtime list, installed by pip for the runtime and architecture
the central template names (`--platform manylinux2014_<arch> --only-binary=:all:`), so wheels with
compiled parts (pydantic-core, cryptography) match Lambda's Linux, not the build machine. boto3 is
bundled too: the runtime's own copy changes under ikr without notice. Lean: what the functions never
load is left out (trim.py), and `.pyc` files for the runtime's Python are compiled in (bytecode.py)
when an interpreter of that version is at hand. Reproducible: entries sorted, one fixed timestamp
and mode, nothing machine-specific (unchecked-hash pycs hold no mtime, no scripts with a build path,
no pip `direct_url.json`); the resolved versions are written into the zip (`ikr-requirements.txt`)
so `--requirements` can rebuild exactly that set later.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from central.deploy import trim
from central.deploy.bytecode import Compiler, compile_trees
from central.deploy.native import Stripper
from central.domain.errors import IkrError, UsageError

CODE_PACKAGES = ("central", "handlers")
LOCK_NAME = "ikr-requirements.txt"
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold
_PIP_PLATFORM = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}

Runner = Callable[[Sequence[str]], None]
Keep = Callable[[str, frozenset[str]], bool]  # (path in pip's install, services ikr calls) -> in the zip?


class PackagingError(IkrError):
    """pip could not install the dependencies for the Lambda platform."""


@dataclass(frozen=True)
class Artifact:
    path: Path
    sha256: str
    size: int
    entries: int
    runtime: str
    architecture: str
    bytecode: str | None  # the interpreter that compiled the pycs; None: built without them
    native: str | None = None  # how the native libraries were stripped; None: they were not

    @property
    def key(self) -> str:
        """Its S3 key: named by content, so new code is a new key and CloudFormation sees a change."""
        return f"ikr/lambda-{self.sha256[:20]}.zip"


def runtime_requirements(pyproject: Path) -> list[str]:
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"cannot read the runtime dependencies from {pyproject}: {exc}") from None
    return [str(requirement) for requirement in data["project"]["dependencies"]]


def pip_command(
    runtime: str, architecture: str, target: Path, requirements_file: Path, extra: Sequence[str] = ()
) -> list[str]:
    if not runtime.startswith("python3."):
        raise UsageError(f"runtime {runtime!r} is not a Python runtime")
    if architecture not in _PIP_PLATFORM:
        raise UsageError(f"architecture {architecture!r} is not one of {sorted(_PIP_PLATFORM)}")
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--target",
        str(target),
        "--platform",
        _PIP_PLATFORM[architecture],
        "--implementation",
        "cp",
        "--python-version",
        runtime.removeprefix("python"),
        "--only-binary=:all:",
        "--requirement",
        str(requirements_file),
        *extra,
    ]


def run_pip(command: Sequence[str]) -> None:
    done = subprocess.run(list(command), capture_output=True, text=True, check=False)  # noqa: S603 - our own argv
    if done.returncode != 0:
        raise PackagingError(f"pip could not install the Lambda dependencies:\n{done.stderr.strip()[-3000:]}")


def code_files(source_root: Path) -> list[tuple[str, Path]]:
    files: list[tuple[str, Path]] = []
    for package in CODE_PACKAGES:
        base = source_root / package
        if not (base / "__init__.py").is_file():
            raise UsageError(f"{base} is not the {package} package: run `ikr package` from a source checkout")
        # the build machine's own __pycache__ stays out; the artifact's bytecode is compiled afresh
        files.extend(
            (path.relative_to(source_root).as_posix(), path)
            for path in base.rglob("*.py")
            if "__pycache__" not in path.relative_to(base).parts
        )
    return files


def stage_code(files: Iterable[tuple[str, Path]], folder: Path) -> None:
    """A copy of ikr's code to compile: the checkout itself is never written to."""
    for name, path in files:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, folder / name)


def trim_dependencies(target: Path, services: frozenset[str], keep: Keep = trim.kept) -> None:
    """Delete what `keep` leaves out from pip's install, before any of it is compiled."""
    for path in [path for path in target.rglob("*") if path.is_file()]:
        if not keep(path.relative_to(target).as_posix(), services):
            path.unlink()


def tree_files(folder: Path) -> list[tuple[str, Path]]:
    return [(path.relative_to(folder).as_posix(), path) for path in folder.rglob("*") if path.is_file()]


def resolved_versions(target: Path) -> str:
    """`name==version` of every installed distribution, from the dist-info folders pip wrote."""
    lines = []
    for info in target.glob("*.dist-info"):
        name, _, version = info.name.removesuffix(".dist-info").partition("-")
        lines.append(f"{name}=={version}")
    return "".join(f"{line}\n" for line in sorted(lines, key=str.lower))


def write_zip(entries: Iterable[tuple[str, bytes]], out: Path) -> None:
    """Same entries in, same bytes out: sorted names, one timestamp, one mode, fixed compression."""
    out.parent.mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in sorted(entries):
            if name in seen:
                raise PackagingError(f"{name} would be in the artifact twice (a dependency shadows ikr's code?)")
            seen.add(name)
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.create_system = 3  # unix, so the mode below is read
            info.external_attr = (0o100644 & 0xFFFF) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data, compresslevel=9)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build(
    source_root: Path,
    out: Path,
    runtime: str,
    architecture: str,
    requirements: Sequence[str],
    pip_extra: Sequence[str] = (),
    runner: Runner = run_pip,
    compiler: Compiler | None = None,
    keep: Keep = trim.kept,
    stripper: Stripper | None = None,
) -> Artifact:
    """The zip; with `compiler` (an interpreter of the runtime's version) it holds `.pyc` files too.
    `keep` is trim.kept but for the benchmark, which builds the untrimmed artifact to compare."""
    code = code_files(source_root)
    services = trim.runtime_services(source_root)
    with tempfile.TemporaryDirectory(prefix="ikr-package-") as work:
        target, staged = Path(work) / "deps", Path(work) / "code"
        requirements_file = Path(work) / "requirements.txt"
        requirements_file.write_text("".join(f"{line}\n" for line in requirements), encoding="utf-8")
        runner(pip_command(runtime, architecture, target, requirements_file, pip_extra))
        target.mkdir(exist_ok=True)
        stage_code(code, staged)
        trim_dependencies(target, services, keep)
        native = None
        if stripper is not None:
            count, saved = stripper.strip(target)
            native = f"{count} stripped by {stripper.program} ({saved / 1e6:.1f} MB less before compression)"
        if compiler is not None:
            compile_trees(compiler, [staged], sourceless=[target])
        entries = [(name, path.read_bytes()) for name, path in (*tree_files(staged), *tree_files(target))]
        entries.append((LOCK_NAME, resolved_versions(target).encode("utf-8")))
        write_zip(entries, out)
    return Artifact(
        path=out,
        sha256=sha256_of(out),
        size=out.stat().st_size,
        entries=len(entries),
        runtime=runtime,
        architecture=architecture,
        bytecode=compiler.description if compiler else None,
        native=native,
    )
