"""The native libraries of the Lambda artifact without what no run reads: their debug information and
static symbol tables (`llvm-strip --strip-unneeded`, what Debian does to every shared library it ships).

Some wheels ship theirs unstripped: PyNaCl's `_sodium` carries libsodium's debug information (2.8 MB,
0.47 MB stripped), cryptography's Rust library its symbol table (13.5 MB, 10.3 MB stripped); together
1.2 MB of the zip. The dynamic symbols the interpreter loads by stay. `llvm-strip` handles any
architecture, so the arm64 libraries of the Lambda platform are stripped on an x86 build machine too.
Without one the artifact is only larger: it is built all the same, and `ikr package` says so.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

_NAMES = ("llvm-strip", *(f"llvm-strip-{version}" for version in range(20, 13, -1)))


@dataclass(frozen=True)
class Stripper:
    program: str

    def strip(self, target: Path) -> tuple[int, int]:
        """Strip every shared library under `target` in place: (libraries stripped, bytes saved). A
        library the tool cannot read is left as it was (stripping saves room, nothing more)."""
        count = saved = 0
        for library in sorted(target.rglob("*.so")):
            before = library.stat().st_size
            done = subprocess.run(  # noqa: S603 - a tool found on PATH, a file of pip's install
                [self.program, "--strip-unneeded", str(library)], capture_output=True, check=False
            )
            if done.returncode == 0:
                count += 1
                saved += before - library.stat().st_size
        return count, saved


def find_stripper() -> Stripper | None:
    """`llvm-strip` (Debian's `llvm` package), or a versioned one, on PATH; None when there is none."""
    for name in _NAMES:
        found = shutil.which(name)
        if found:
            return Stripper(found)
    return None
