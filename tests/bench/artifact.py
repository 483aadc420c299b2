"""`make bench-artifact`: the Lambda artifact before and after trimming and bytecode, in one table.

Three builds of the same code and dependencies: as `ikr package` made it before (every file pip
installs, no .pyc), trimmed without .pyc, and trimmed with .pyc (what `ikr package` makes when an
interpreter of the runtime's Python is at hand). Sizes are of the build for the template's platform
(arm64); cold imports are timed on a build for this machine (its binaries must run here), with an
interpreter of the runtime's version when one is found (else this one, and the table says so).

A cold import is `import handlers.<name>` in a fresh `-I -S -B` interpreter whose path is the
unzipped artifact and the standard library only (`-B`: like Lambda's read-only code folder, nothing
compiled is written back for the next run); CPU time of the import in the child, the least and the
median of --runs of them. The variants take turns within each round, so a machine busy with other
work slows them alike. On a shared virtual machine the same import's CPU time varies by up to 2x from
one minute to the next (time stolen by the host is charged to the process): the least is the figure
to compare (the cost with the least interference, as timeit's documentation advises), the median
says how much the moment added. The last column, the chosen libraries alone, moves with the same
noise: a handler's distance from it is ikr's own share.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from central.deploy import artifact, bytecode, template, trim
from central.deploy.native import find_stripper

HANDLERS = ("rotator", "account_worker", "destructor", "reporter")
_ARCHITECTURE = {"x86_64": "x86_64", "aarch64": "arm64"}
_TIMER = (
    "import sys, time; sys.path.insert(0, sys.argv[1]); wall, cpu = time.perf_counter(), time.process_time(); "
    "[__import__(name) for name in sys.argv[2:]]; print(time.perf_counter() - wall, time.process_time() - cpu)"
)
# What no handler can start without: the libraries ikr chose (pydantic, botocore's session and client,
# Powertools' logger, metrics and batch utility), imported alone the way a handler imports them (the
# collector paused). The table prints it beside the handlers: the rest is ikr's own share.
FLOOR = "libraries only"
_FLOOR_MODULES = (  # in the handlers' order: the batch utility before pydantic (it then skips its parser models)
    "aws_lambda_powertools.utilities.batch",
    "aws_lambda_powertools.logging",
    "aws_lambda_powertools.metrics",
    "pydantic.main",
    "botocore.session",
)
COLUMNS = (*HANDLERS, FLOOR)


def untrimmed(relative: str, services: frozenset[str]) -> bool:
    """The rules `ikr package` had before trimming: everything but bytecode, scripts and direct_url.json."""
    path = PurePosixPath(relative)
    return not ({"__pycache__", "bin"} & set(path.parts) or path.name == "direct_url.json" or path.suffix == ".pyc")


@dataclass(frozen=True)
class Variant:
    name: str
    keep: artifact.Keep
    compiled: bool


VARIANTS = (
    Variant("before: everything, no .pyc", untrimmed, compiled=False),
    Variant("trimmed, no .pyc", trim.kept, compiled=False),
    Variant("after: trimmed + .pyc", trim.kept, compiled=True),
)


@dataclass(frozen=True)
class Built:
    variant: str
    zip_bytes: int
    unzipped_bytes: int
    files: int
    unzipped: Path  # the build for this machine, for the imports


@dataclass(frozen=True)
class Row:
    built: Built
    least_ms: dict[str, float]
    median_ms: dict[str, float]


def _build(variant: Variant, runtime: str, architecture: str, compiler: bytecode.Compiler | None, out: Path) -> Path:
    requirements = artifact.runtime_requirements(template.REPO_ROOT / "pyproject.toml")
    cache = f"--cache-dir={template.REPO_ROOT / '.cache' / 'pip'}"
    chosen = compiler if variant.compiled else None
    # "after" is what `ikr package` builds: native libraries stripped too, where llvm-strip is found.
    stripper = find_stripper() if variant.compiled else None
    artifact.build(
        template.REPO_ROOT,
        out,
        runtime,
        architecture,
        requirements,
        [cache],
        compiler=chosen,
        keep=variant.keep,
        stripper=stripper,
    )
    return out


def build_variant(variant: Variant, runtime: str, timing: bytecode.Compiler, folder: Path) -> Built:
    """The template's platform build (for the sizes) and this machine's, unzipped (for the imports)."""
    lambda_runtime, lambda_architecture = template.lambda_platform(template.load(template.CENTRAL_TEMPLATE))
    folder.mkdir()
    sized = _build(
        variant, lambda_runtime, lambda_architecture, bytecode.find_compiler(lambda_runtime), folder / "lambda.zip"
    )
    with zipfile.ZipFile(sized) as archive:
        infos = archive.infolist()
    host = _build(variant, runtime, _ARCHITECTURE[platform.machine()], timing, folder / "host.zip")
    with zipfile.ZipFile(host) as archive:
        archive.extractall(folder / "unzipped")
    return Built(
        variant=variant.name,
        zip_bytes=sized.stat().st_size,
        unzipped_bytes=sum(info.file_size for info in infos),
        files=len(infos),
        unzipped=folder / "unzipped",
    )


def cold_import(interpreter: str, root: Path, handler: str) -> float:
    """CPU ms of one import of the handler's module (or of the floor's libraries) in a fresh
    interpreter."""
    modules = _FLOOR_MODULES if handler == FLOOR else (f"handlers.{handler}",)
    timer = "import gc; gc.disable(); " + _TIMER if handler == FLOOR else _TIMER  # a handler pauses its own
    done = subprocess.run(
        [interpreter, "-I", "-S", "-B", "-c", timer, str(root), *modules], capture_output=True, text=True, check=True
    )
    _wall, cpu = (float(word) * 1000 for word in done.stdout.split())
    return cpu


def time_imports(interpreter: str, builds: list[Built], runs: int) -> list[Row]:
    samples: dict[tuple[str, str], list[float]] = {}
    for _ in range(runs):
        for built in builds:  # take turns: a busy moment of the machine hits every variant
            for name in COLUMNS:
                samples.setdefault((built.variant, name), []).append(cold_import(interpreter, built.unzipped, name))
    return [
        Row(
            built=built,
            least_ms={name: min(samples[built.variant, name]) for name in COLUMNS},
            median_ms={name: statistics.median(samples[built.variant, name]) for name in COLUMNS},
        )
        for built in builds
    ]


def table(rows: list[Row]) -> list[str]:
    header = f"{'artifact':<30} {'zip MB':>7} {'unzipped MB':>12} {'files':>6} " + " ".join(
        f"{name + ' ms':>22}" for name in COLUMNS
    )
    lines = [header, f"{'':<58}" + " ".join(f"{'CPU least / median':>22}" for _ in COLUMNS), "-" * len(header)]
    for row in rows:
        built = row.built
        lines.append(
            f"{built.variant:<30} {built.zip_bytes / 1e6:>7.1f} {built.unzipped_bytes / 1e6:>12.1f} {built.files:>6} "
            + " ".join(f"{f'{row.least_ms[name]:.0f} / {row.median_ms[name]:.0f}':>22}" for name in COLUMNS)
        )
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=7, help="fresh interpreters per handler and variant")
    parser.add_argument(
        "--after-only", action="store_true", help="only the artifact `ikr package` makes (no before variants)"
    )
    args = parser.parse_args(argv)
    lambda_runtime, lambda_architecture = template.lambda_platform(template.load(template.CENTRAL_TEMPLATE))
    timing = bytecode.find_compiler(lambda_runtime)
    runtime = lambda_runtime
    if timing is None:
        runtime = f"python{sys.version_info.major}.{sys.version_info.minor}"
        timing = bytecode.Compiler(sys.executable, platform.python_version())
        print(f"(no {lambda_runtime} interpreter here: imports timed with {runtime}; Lambda's build has no .pyc)")
    print(
        f"ikr Lambda artifact: sizes of the {lambda_runtime} {lambda_architecture} build; cold import of each handler "
        f"(CPU ms, least and median of {args.runs} fresh interpreters) from a {platform.machine()} build, run by "
        f"{timing.description} on {platform.processor() or platform.machine()}"
    )
    with tempfile.TemporaryDirectory(prefix="ikr-bench-artifact-") as work:
        builds = [
            build_variant(variant, runtime, timing, Path(work) / f"variant-{index}")
            for index, variant in enumerate(VARIANTS[-1:] if args.after_only else VARIANTS)
        ]
        rows = time_imports(timing.executable, builds, args.runs)
    for line in table(rows):
        print(line)


if __name__ == "__main__":
    main()
