"""The `ikr` command line: a thin entry point over the use cases."""

from central.cli.main import main

__all__ = ["main"]
