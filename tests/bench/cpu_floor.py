"""`make bench-cpu`: the CPU a steady-state run costs against the floor of its own AWS calls.

The floor is what the same AWS calls cost when nothing but boto3 makes them: every call of one ikr run
(service, operation, parameters, the credentials it was signed with) is recorded, then replayed
through plain boto3 clients, one per account and service and made before the clock starts, against
the same in-memory stand-in (`tests/bench/standin.py`, no latency: only CPU counts here). Whatever
ikr spends above the floor is its own work: building sessions and clients, parsing, deciding,
garbage collection.

Three child processes, so no run warms another's caches: the recording run, the measured run
(process CPU time, the share of it spent in the garbage collector, peak memory), and the replay.
The measured run and the replay both settle the garbage collector as ikr's entry points do
(`central/startup.py`), so the ratio compares like with like.

    python -m tests.bench.cpu_floor [--accounts 1000] [--users 1000] [--managed 100] [--concurrency 16]
"""

from __future__ import annotations

import gc
import pickle
import tempfile
import time
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
from botocore import xform_name
from botocore.client import BaseClient

from central.aws import clients as aws
from central.aws.session_factory import iso_timestamp
from central.domain.results import Outcome
from central.rotation.run import run_rotation
from central.startup import settle_garbage_collector
from tests.bench.common import bench_parser, bench_services, measure_in_child, peak_rss_mb, serve_child
from tests.bench.standin import StandIn

Call = tuple[str, str, str, dict[str, Any]]  # access key id, service, operation, parameters


def _stand_in(params: dict[str, Any]) -> StandIn:
    return StandIn(params["accounts"], params["users"], params["managed"], latency=0.0)


def _run(params: dict[str, Any]) -> None:
    services = bench_services(aws.default_session())
    result = run_rotation(services, concurrency=params["concurrency"])
    assert result.total(Outcome.NOT_DUE) == params["accounts"] * params["managed"], "nobody is due"


class _GcTimer:
    """CPU seconds spent inside the garbage collector, from gc's own start/stop callbacks."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = 0
        self._started = 0.0

    def __call__(self, phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.process_time()
        else:
            self.seconds += time.process_time() - self._started
            self.collections += 1


def _child_record(params: dict[str, Any]) -> dict[str, Any]:
    calls: list[Call] = []
    original = BaseClient._make_api_call  # type: ignore[attr-defined]

    def record(self: BaseClient, operation: str, api_params: dict[str, Any]) -> Any:
        credentials = self._request_signer._credentials.get_frozen_credentials()  # type: ignore[attr-defined]
        calls.append((credentials.access_key, self.meta.service_model.service_name, operation, dict(api_params)))
        return original(self, operation, api_params)

    with _stand_in(params).installed(), mock.patch.object(BaseClient, "_make_api_call", record):
        _run(params)
    Path(params["calls_file"]).write_bytes(pickle.dumps(calls))
    return {"calls": len(calls)}


def _child_ikr(params: dict[str, Any]) -> dict[str, Any]:
    settle_garbage_collector()  # as every entry point does at start
    timer = _GcTimer()
    with _stand_in(params).installed():
        gc.callbacks.append(timer)
        started = time.process_time()
        _run(params)
        cpu = time.process_time() - started
        gc.callbacks.remove(timer)
    return {"cpu": cpu, "gc": timer.seconds, "collections": timer.collections, "peak_mb": peak_rss_mb()}


def _child_floor(params: dict[str, Any]) -> dict[str, Any]:
    calls: list[Call] = pickle.loads(Path(params["calls_file"]).read_bytes())
    settle_garbage_collector()  # the floor gets the same collector as ikr: a fair comparison
    with _stand_in(params).installed():  # the stand-in answers clients made inside the block
        session = boto3.Session(region_name=aws.DEFAULT_REGION)  # one loader for all
        # botocore as ikr configures it (its fast ISO timestamps), so the floor is not slower than ikr
        parsers = session._session.get_component("response_parser_factory")
        parsers.set_parser_defaults(timestamp_parser=iso_timestamp)
        make_client: Any = session.client
        clients = {
            (access_key, service): make_client(
                service,
                config=aws.BOTO_CONFIG,
                aws_access_key_id=access_key,
                aws_secret_access_key="bench",
                aws_session_token="bench" if access_key.startswith("ASIA") else None,
            )
            for access_key, service, _, _ in calls
        }
        methods = [getattr(clients[key, service], xform_name(operation)) for key, service, operation, _ in calls]
        # Clients are made before the clock starts: building them is ikr's cost, not the calls'.
        started = time.process_time()
        for method, (_, _, _, api_params) in zip(methods, calls, strict=True):
            method(**api_params)
        cpu = time.process_time() - started
    return {"cpu": cpu, "calls": len(calls), "peak_mb": peak_rss_mb()}


_CHILDREN = {"record": _child_record, "ikr": _child_ikr, "floor": _child_floor}


def _measure(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    return measure_in_child("tests.bench.cpu_floor", kind, params)


def main(argv: list[str] | None = None) -> None:
    parser = bench_parser(__doc__, accounts=1000, users=1000, managed=100, children=list(_CHILDREN))
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args(argv)
    if args.child:
        serve_child(_CHILDREN[args.child], args.params)
        return
    with tempfile.TemporaryDirectory() as folder:
        params = {
            "accounts": args.accounts,
            "users": args.users,
            "managed": args.managed,
            "concurrency": args.concurrency,
            "calls_file": str(Path(folder) / "calls.pickle"),
        }
        recorded = _measure("record", params)
        ikr = _measure("ikr", params)
        floor = _measure("floor", params)
    print(
        f"steady state, {args.accounts:,} accounts x {args.users:,} users ({args.managed} managed each), "
        f"{recorded['calls']:,} AWS calls"
    )
    print(f"{'':24}{'CPU s':>10}{'GC s':>10}{'GC %':>8}{'peak MB':>10}")
    gc_share = 100 * ikr["gc"] / ikr["cpu"] if ikr["cpu"] else 0.0
    print(f"{'ikr run':24}{ikr['cpu']:>10.1f}{ikr['gc']:>10.1f}{gc_share:>7.0f}%{ikr['peak_mb']:>10.0f}")
    print(f"{'floor (replayed calls)':24}{floor['cpu']:>10.1f}{'':>10}{'':>8}{floor['peak_mb']:>10.0f}")
    print(f"ratio ikr / floor: {ikr['cpu'] / floor['cpu']:.2f}x (goal <= 1.5x)")


if __name__ == "__main__":
    main()
