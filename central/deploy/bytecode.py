"""The artifact's `.pyc` files, compiled by an interpreter of the Lambda runtime's own Python version.

Lambda's code folder is read-only, so without bytecode in the zip every cold start compiles each module
it imports again (a cold import of 0.7 s instead of 0.3 s). A `.pyc` is used only by the Python
version whose cache tag it carries (`__pycache__/x.cpython-312.pyc`) and silently ignored by any other,
so it must come from an interpreter of the runtime's version: the `--python` one, else the first of
this interpreter, `python3.12` on PATH and pyenv's 3.12 installs that is one. With none, the artifact
is built without bytecode (correct, only slower to start) and `ikr package` says so.

The pycs are unchecked-hash pycs (PEP 552): no source mtime inside (reproducible), and the runtime
loads them without reading the source back to check it (the artifact never changes under them).

ikr's own code keeps its sources beside `__pycache__`, so a traceback from it shows its lines. The
dependencies ship as bytecode only (`x.pyc` where `x.py` was, which Python imports without a source):
their sources are 1.9 MB of the zip that no run reads, and the lock file inside the artifact names
the exact versions whose sources a reader of a traceback can look up.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from central.domain.errors import IkrError, UsageError

_PROBE = "import sys; print(sys.implementation.cache_tag, sys.version.split()[0])"
# compile_dir walks folders in sorted order in this one process, so the same tree gives the same
# bytes; stripdir records each file's path inside the artifact (`central/settings.py`), not the
# build's temporary folder (the import system puts the real path into tracebacks when it loads it).
_COMPILE = """\
import compileall, py_compile, sys
mode = py_compile.PycInvalidationMode.UNCHECKED_HASH
split = sys.argv.index("--sourceless")
cached, sourceless = sys.argv[1:split], sys.argv[split + 1 :]
ok = [
    compileall.compile_dir(root, quiet=1, stripdir=root, invalidation_mode=mode, legacy=legacy)
    for roots, legacy in ((cached, False), (sourceless, True))
    for root in roots
]
sys.exit(0 if all(ok) else 1)
"""


class CompileError(IkrError):
    """The runtime's interpreter could not compile a file of the artifact."""


@dataclass(frozen=True)
class Compiler:
    executable: str
    version: str  # e.g. 3.12.1

    @property
    def description(self) -> str:
        return f"CPython {self.version} ({self.executable})"


def cache_tag(runtime: str) -> str:
    """`python3.12` -> `cpython-312`, the tag of the pycs Lambda's interpreter loads."""
    return "cpython-" + runtime.removeprefix("python").replace(".", "")


def find_compiler(runtime: str, explicit: str | None = None) -> Compiler | None:
    """An interpreter of the runtime's version: `explicit` (an error if it is not one), else the first
    candidate that is, else None."""
    wanted = cache_tag(runtime)
    if explicit is not None:
        found = _probe(explicit)
        if found is None or found[0] != wanted:
            what = f"is {found[0]}" if found else "does not run"
            raise UsageError(f"--python {explicit} {what}; the Lambda runtime {runtime} loads {wanted} bytecode only")
        return Compiler(explicit, found[1])
    for candidate in _candidates(runtime):
        found = _probe(candidate)
        if found is not None and found[0] == wanted:
            return Compiler(candidate, found[1])
    return None


def _candidates(runtime: str) -> Iterator[str]:
    yield sys.executable
    on_path = shutil.which(runtime)
    if on_path:
        yield on_path  # may be a pyenv shim that refuses to run: the probe tells
    pyenv_root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    yield from sorted(glob.glob(f"{pyenv_root}/versions/{runtime.removeprefix('python')}.*/bin/{runtime}"))


def _probe(executable: str) -> tuple[str, str] | None:
    try:
        done = subprocess.run(  # noqa: S603 - the operator's or PATH's interpreter, by design
            [executable, "-I", "-c", _PROBE], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    words = done.stdout.split()
    return (words[0], words[1]) if done.returncode == 0 and len(words) == 2 else None


def compile_trees(compiler: Compiler, roots: Sequence[Path], sourceless: Sequence[Path] = ()) -> None:
    """Write `__pycache__/<name>.<tag>.pyc` beside every `.py` under `roots`; under `sourceless`,
    replace every `.py` by its `.pyc` in the same folder."""
    # A fixed hash seed: the order of a frozenset constant (`x in {"a", "b"}`) in a pyc follows the
    # string hashes, which differ per process otherwise. Other PYTHON* variables of the operator's
    # shell stay out of the compiler's way.
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    env["PYTHONHASHSEED"] = "0"
    done = subprocess.run(  # noqa: S603 - our own argv
        [compiler.executable, "-s", "-c", _COMPILE, *map(str, roots), "--sourceless", *map(str, sourceless)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip()[-3000:]
        raise CompileError(f"{compiler.description} could not compile the artifact:\n{output}")
    for root in sourceless:
        for source in root.rglob("*.py"):
            if source.with_suffix(".pyc").is_file():
                source.unlink()
