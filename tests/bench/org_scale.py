"""`make bench-org`: the rotator over Organizations of 1,000 and 10,000 accounts at Organizations' rate
limits, and peak memory of the rotator and of the CLI's in-process run (issue 19; issue 15's 8,000).

The back end is the in-memory stand-in (`tests/bench/standin.py`) answered at botocore's `before-send`,
extended here: the member accounts spread over `--ous` OUs, accounts listed with `State` only (AWS's
shape since 2026-09-09), SQS SendMessageBatch for the fan-out, and a token bucket in front of every
Organizations request (default 5 requests a second, burst 10): a request that finds the bucket empty
is answered `TooManyRequestsException`, which botocore's retry configuration (the one every ikr client
is built with) backs off and repeats. Each figure comes from its own child process, so its peak memory
is its own.

- rotator: the fan-out rotator's walk and queueing (`central.rotation.fanout.queue_run`), with the
  bucket: Organizations calls (as made by the code; HTTP requests including throttled retries), wall
  time, peak memory.
- CLI run: `run_rotation` in process over every account (nobody due, `--users` users each, all managed,
  so every user's row is held), without the bucket and without latency: its peak memory is the point,
  not its time (its account tags are read where each account is worked: one call per account, which
  at 5 a second alone would take N/5 seconds).

- worker tags: what moved out of the rotator, every account's own tag read, made by `--workers`
  account workers at once behind the same bucket: requests, throttles, failures past every retry.

    python -m tests.bench.org_scale [--sizes 1000 10000] [--ous 10] [--rate 5] [--burst 10]
                                    [--worker-sizes 1000] [--workers 16]
                                    [--cli-sizes 8000 10000] [--users 100] [--cli-held] [--skip-cli]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from central.aws import clients as aws
from central.aws.errors import AwsError
from central.aws.organizations import account_tags_from
from central.aws.walk_position import WalkPositions
from central.cli.run_printer import RunPrinter
from central.domain.results import Outcome
from central.rotation.account_queue import AccountQueue
from central.rotation.fanout import queue_run
from central.rotation.run import run_rotation
from tests.bench.common import bench_services, counting, measure_in_child, peak_rss_mb, serve_child
from tests.bench.standin import CENTRAL, ROOT, StandIn

QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/ikr-accounts"
MODULE = "tests.bench.org_scale"


class TokenBucket:
    """`rate` tokens a second, at most `burst` saved; one token per request, none left: refused."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._last = time.monotonic()
        self._lock = threading.Lock()
        self.refused = 0

    def take(self) -> bool:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens >= 1:
                self._tokens -= 1
                return True
            self.refused += 1
            return False


class OrgStandIn(StandIn):
    """The stand-in with the members over `ous` OUs (every other one IKR:ENABLED=true), `State` in
    listings, SQS batches and the walk position's GetItem, and Organizations behind a token bucket."""

    def __init__(
        self, accounts: int, users: int, ous: int, bucket: TokenBucket | None, latency: float, every_ou: bool = False
    ) -> None:
        super().__init__(accounts, users, users, latency=latency)
        self.bucket = bucket
        self.every_ou = every_ou  # every OU opted in (the CLI run: every account's rows held)
        self.ou_ids = [f"ou-bnch-{n:08d}" for n in range(ous)]  # AWS's form: ou-<root>-<8 to 32>
        share = -(-accounts // ous)
        self.by_ou = {ou: self.members[n * share : (n + 1) * share] for n, ou in enumerate(self.ou_ids)}
        self.sent = 0
        self._operations.update(
            {
                "sqs.SendMessageBatch": self._send_batch,
                "dynamodb.GetItem": self._no_item,
                "dynamodb.PutItem": self._no_item,
            }
        )

    def _answer(self, request: Any, event_name: str = "", **kwargs: Any) -> Any:
        if self.bucket is not None and event_name.split(".")[1] == "organizations" and not self.bucket.take():
            with self._lock:
                self.requests[f"organizations:{event_name.split('.', 2)[2]}"] += 1
            body = json.dumps({"__type": "TooManyRequestsException", "Message": "AWS Organizations can't complete"})
            return self._response(request, 400, body.encode())
        return super()._answer(request, event_name, **kwargs)

    @staticmethod
    def _response(request: Any, status: int, body: bytes) -> Any:
        from botocore.awsrequest import AWSResponse

        from tests.bench.standin import _Body

        return AWSResponse(request.url, status, {"Content-Type": "application/x-amz-json-1.1"}, _Body(body))

    def _units(self, _account: str, params: dict[str, Any]) -> tuple[int, str, bytes]:
        ids = self.ou_ids if params["ParentId"] == ROOT else []
        units = [
            {"Id": ou, "Arn": f"arn:aws:organizations::{CENTRAL}:ou/o-standin/{ou}", "Name": f"Unit {ou[-4:]}"}
            for ou in ids
        ]
        return self._json(self._paged("OrganizationalUnits", units, params))

    def _account_ids(self, parent: str) -> list[str]:
        return [CENTRAL] if parent == ROOT else self.by_ou.get(parent, [])

    def _org_tags(self, _account: str, params: dict[str, Any]) -> tuple[int, str, bytes]:
        enabled = params["ResourceId"] in (self.ou_ids if self.every_ou else self.ou_ids[::2])
        return self._json({"Tags": [{"Key": "IKR:ENABLED", "Value": "true"}] if enabled else []})

    def _send_batch(self, _account: str, params: dict[str, Any]) -> tuple[int, str, bytes]:
        entries = params["Entries"]
        with self._lock:
            self.sent += len(entries)
        done = [
            {
                "Id": entry["Id"],
                "MessageId": f"m-{entry['Id']}",
                "MD5OfMessageBody": hashlib.md5(entry["MessageBody"].encode(), usedforsecurity=False).hexdigest(),
            }
            for entry in entries
        ]
        return self._json({"Successful": done, "Failed": []}, version="1.0")

    def _no_item(self, _account: str, _params: dict[str, Any]) -> tuple[int, str, bytes]:
        return self._json({}, version="1.0")


# -- the measurements, each in its own process -------------------------------------------------------


def _rotator(params: dict[str, Any]) -> dict[str, Any]:
    bucket = TokenBucket(params["rate"], params["burst"])
    stand_in = OrgStandIn(params["accounts"], 1, params["ous"], bucket, params["latency"])
    with stand_in.installed():
        services = bench_services(aws.default_session())
        queue = AccountQueue(aws.sqs(services.central), QUEUE_URL)
        positions = WalkPositions(aws.dynamodb(services.central), services.table.name)
        started = time.perf_counter()
        with counting() as calls:
            queued = queue_run(services, queue, positions)
        wall = time.perf_counter() - started
    assert queued.finished
    assert queued.queued == params["accounts"] + 1 == stand_in.sent, (queued.queued, stand_in.sent)
    organizations = {name: count for name, count in calls.items() if name.startswith("organizations:")}
    requests = {name: count for name, count in stand_in.requests.items() if name.startswith("organizations:")}
    return {
        "calls": organizations,
        "requests": sum(requests.values()),
        "throttled": bucket.refused,
        "sqs_calls": calls.get("sqs:SendMessageBatch", 0),
        "wall": wall,
        "peak_mb": peak_rss_mb(),
    }


def _cli(params: dict[str, Any]) -> dict[str, Any]:
    """`ikr rotate`'s run: with the CLI's printer (each account's lines spooled as its turn comes, folded
    rows kept; the text goes to /dev/null), or, with `held`, every row held as before issue 19."""
    stand_in = OrgStandIn(params["accounts"], params["users"], params["ous"], None, 0.0, every_ou=True)
    printer = None if params.get("held", True) else RunPrinter()
    with stand_in.installed():
        services = bench_services(aws.default_session())
        started = time.perf_counter()
        result = run_rotation(services, concurrency=16, sink=printer)
        if printer is not None:
            with open(os.devnull, "w", encoding="utf-8") as out:
                printer.write_to(out, result)
        wall = time.perf_counter() - started
    worked = [row for row in result.accounts if row.status.value == "done"]
    users = result.total(Outcome.NOT_DUE)
    return {"worked": len(worked), "users": users, "wall": wall, "peak_mb": peak_rss_mb()}


def _worker_tags(params: dict[str, Any]) -> dict[str, Any]:
    """What moved out of the rotator: every account's own tags, read by `workers` account workers at
    once (each its own session and client, as separate Lambdas) behind the same token bucket."""
    bucket = TokenBucket(params["rate"], params["burst"])
    stand_in = OrgStandIn(params["accounts"], 1, params["ous"], bucket, params["latency"])
    failures: list[str] = []
    with stand_in.installed():
        ids = list(stand_in.members)
        started = time.perf_counter()

        def read(account_id: str) -> None:
            try:
                account_tags_from(aws.default_session(), account_id)
            except AwsError as exc:
                failures.append(f"{account_id}: {exc}")

        with ThreadPoolExecutor(max_workers=params["workers"]) as pool:
            list(pool.map(read, ids))
        wall = time.perf_counter() - started
    return {
        "reads": len(ids),
        "requests": stand_in.requests["organizations:ListTagsForResource"],
        "throttled": bucket.refused,
        "failed": len(failures),
        "wall": wall,
    }


_CHILDREN = {"rotator": _rotator, "cli": _cli, "worker-tags": _worker_tags}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=[1000, 10000], help="accounts, rotator figures")
    parser.add_argument("--ous", type=int, default=10)
    parser.add_argument("--rate", type=float, default=5.0, help="Organizations requests a second")
    parser.add_argument("--burst", type=int, default=10)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added to every request (rotator)")
    parser.add_argument("--cli-sizes", type=int, nargs="*", default=[8000, 10000], help="accounts, CLI run memory")
    parser.add_argument("--users", type=int, default=100, help="users per account in the CLI run, all managed")
    parser.add_argument("--skip-cli", action="store_true")
    parser.add_argument("--cli-held", action="store_true", help="also the CLI run holding every row, for comparison")
    parser.add_argument("--worker-sizes", type=int, nargs="*", default=[1000], help="accounts, workers' tag reads")
    parser.add_argument("--workers", type=int, default=16, help="account workers reading tags at once")
    parser.add_argument("--child", choices=sorted(_CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--params", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        serve_child(_CHILDREN[args.child], args.params)
        return
    print(f"Organizations behind a token bucket: {args.rate:g} requests/s, burst {args.burst}; {args.ous} OUs")
    print("| accounts | Organizations calls | requests (throttled) | SQS batches | wall time | peak memory |")
    print("| --- | --- | --- | --- | --- | --- |")
    for size in args.sizes:
        params = {"accounts": size, "ous": args.ous, "rate": args.rate, "burst": args.burst, "latency": args.latency}
        got = measure_in_child(MODULE, "rotator", params)
        calls = ", ".join(f"{name.split(':')[1]} {count}" for name, count in sorted(got["calls"].items()))
        print(
            f"| {size:,} | {sum(got['calls'].values()):,} ({calls}) | {got['requests']:,} ({got['throttled']:,}) "
            f"| {got['sqs_calls']:,} | {got['wall']:.1f} s | {got['peak_mb']:.0f} MB |"
        )
        before = size + sum(got["calls"].values())
        print(f"|   before (one ListTagsForResource per account) | {before:,} | | | >= {before / args.rate:.0f} s | |")
    for size in args.worker_sizes:
        params = {"accounts": size, "ous": args.ous, "rate": args.rate, "burst": args.burst, "latency": args.latency}
        got = measure_in_child(MODULE, "worker-tags", {**params, "workers": args.workers})
        print(
            f"\nThe accounts' own tags, now read by the account workers: {got['reads']:,} reads by {args.workers} "
            f"workers at once behind the same bucket: {got['requests']:,} requests ({got['throttled']:,} throttled "
            f"and retried by botocore), {got['failed']} failed past every retry, {got['wall']:.0f} s"
        )
    if args.skip_cli:
        return
    print(
        f"\nCLI run in process (`ikr rotate`), every account opted in with {args.users} managed users, "
        "no bucket, no latency"
    )
    print("| accounts | users | rows | wall time | peak memory |")
    print("| --- | --- | --- | --- | --- |")
    for size in args.cli_sizes:
        for held in (False, True) if args.cli_held else (False,):
            params = {"accounts": size, "ous": args.ous, "users": args.users, "held": held}
            got = measure_in_child(MODULE, "cli", params)
            how = "every row held (before issue 19)" if held else "printed as it goes, folded rows kept"
            print(f"| {size:,} | {got['users']:,} | {how} | {got['wall']:.0f} s | {got['peak_mb']:.0f} MB |")


if __name__ == "__main__":
    main()
