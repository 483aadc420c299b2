"""`make bench`: AWS calls per account by service, wall time and peak memory of a steady-state run
(nobody due), side by side with the original tool's per-user pattern on the same data.

Two sizes:
- 1 account x 1,000 users (100 tagged IKR:EMAIL) on a moto server over HTTP;
- 1,000 accounts x 1,000 users (100 tagged) on the in-memory stand-in (`tests/bench/standin.py`),
  50 ms added to every request at botocore's `before-send`, where moto would be too slow.

Each figure comes from its own child process, so peak memory is that measurement's alone. The
per-user pattern needs ~55 s per account at 50 ms a call, one account after another (15 hours for
1,000 accounts): it is measured on `--per-user-sample` accounts and its wall time scaled up, which
the table says. Counts are exact; times and memory are this machine's.

    python -m tests.bench.scale [--accounts 1000] [--users 1000] [--managed 100] [--latency 0.05]
                                [--concurrency 16] [--per-user-sample 1] [--skip-moto]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import boto3

from central.aws import clients as aws
from central.domain.results import Outcome
from central.rotation.run import run_rotation
from tests.bench.common import bench_services, counting, fake_credentials, peak_rss_mb, quiet
from tests.bench.per_user import per_user_inventory
from tests.bench.standin import StandIn
from tests.support.servers import MotoServer
from tests.support.world import AccountSpec, OrgSpec, UserSpec, build_world, session_in

SERVICES = ("iam", "sts", "organizations", "dynamodb")


@dataclass
class Figures:
    label: str
    accounts: int  # member accounts worked
    calls: dict[str, int] = field(default_factory=dict)  # "service:Operation" -> calls
    wall: float = 0.0
    peak_mb: float = 0.0
    note: str = ""
    scale: float = 1.0  # wall time measured on 1/scale of the accounts

    def per_account(self, service: str) -> float:
        total = sum(count for name, count in self.calls.items() if name.startswith(f"{service}:"))
        return total / self.accounts


# -- the measurements, each in its own process -------------------------------------------------------


def _moto_ikr(params: dict[str, Any]) -> Figures:
    services = bench_services(boto3.Session(region_name="us-east-1"))
    started = time.perf_counter()
    with counting() as calls:
        result = run_rotation(services, concurrency=params["concurrency"])
    wall = time.perf_counter() - started
    worked = [row for row in result.accounts if row.status.value == "done"]
    assert result.total(Outcome.NOT_DUE) == params["managed"], "the steady state has every managed user not due"
    return Figures("ikr", len(worked), dict(calls), wall, peak_rss_mb())


def _moto_per_user(params: dict[str, Any]) -> Figures:
    central = boto3.Session(region_name="us-east-1")
    started = time.perf_counter()
    with counting() as calls:
        users, tagged = per_user_inventory(session_in(central, params["account"]).client("iam"))
    wall = time.perf_counter() - started
    assert (users, tagged) == (params["users"], params["managed"])
    return Figures("per-user", 1, dict(calls), wall, peak_rss_mb())


def _stand_in(params: dict[str, Any]) -> StandIn:
    return StandIn(params["accounts"], params["users"], params["managed"], latency=params["latency"])


def _standin_ikr(params: dict[str, Any]) -> Figures:
    stand_in = _stand_in(params)
    with stand_in.installed():
        services = bench_services(aws.default_session())
        started = time.perf_counter()
        with counting() as calls:
            result = run_rotation(services, concurrency=params["concurrency"])
        wall = time.perf_counter() - started
    worked = [row for row in result.accounts if row.status.value == "done"]
    assert len(worked) == params["accounts"], [row.detail for row in result.accounts if row.failed][:3]
    assert result.total(Outcome.NOT_DUE) == params["accounts"] * params["managed"]
    return Figures("ikr", len(worked), dict(calls), wall, peak_rss_mb())


def _standin_per_user(params: dict[str, Any]) -> Figures:
    stand_in = _stand_in(params)
    sample = stand_in.members[: params["sample"]]
    with stand_in.installed():
        central = aws.default_session()
        started = time.perf_counter()
        with counting() as calls:
            for account in sample:  # one account after another, one user after another
                users, tagged = per_user_inventory(session_in(central, account).client("iam"))
                assert (users, tagged) == (params["users"], params["managed"])
        wall = time.perf_counter() - started
    calls.pop("sts:GetCallerIdentity", None)  # the harness's own lookup (session_in), not the pattern's
    return Figures("per-user", len(sample), dict(calls), wall, peak_rss_mb(), scale=params["accounts"] / len(sample))


_CHILDREN = {
    "moto-ikr": _moto_ikr,
    "moto-per-user": _moto_per_user,
    "standin-ikr": _standin_ikr,
    "standin-per-user": _standin_per_user,
}


def _child(kind: str, params: dict[str, Any]) -> None:
    quiet()
    if kind.startswith("standin"):
        fake_credentials()
        os.environ.pop("AWS_ENDPOINT_URL", None)
    figures = _CHILDREN[kind](params)
    if kind == "moto-per-user":
        figures.calls.pop("sts:GetCallerIdentity", None)  # the harness's own lookup (session_in)
    print(json.dumps(asdict(figures)))


def measure(kind: str, params: dict[str, Any], env: dict[str, str] | None = None) -> Figures:
    done = subprocess.run(
        [sys.executable, "-m", "tests.bench.scale", "--child", kind, "--params", json.dumps(params)],
        env=env or dict(os.environ),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{kind} failed:\n{done.stderr[-3000:]}")
    return Figures(**json.loads(done.stdout.strip().splitlines()[-1]))


# -- the two sizes ---------------------------------------------------------------------------------


def on_moto(users: int, managed: int, concurrency: int) -> tuple[Figures, Figures, float]:
    """1 account on a moto server: built, run once (the credential report is made), then measured."""
    fake_credentials()
    with MotoServer() as server:
        os.environ["AWS_ENDPOINT_URL"] = server.url
        central = boto3.Session(region_name="us-east-1")
        started = time.perf_counter()
        specs = [
            UserSpec(f"user{i:04d}", {"IKR:EMAIL": f"u{i}@example.com"} if i < managed else {"team": "data"})
            for i in range(users)
        ]
        accounts = [AccountSpec("big", "Workloads", {}, specs)]
        spec = OrgSpec(ous={"Workloads": {"IKR:ENABLED": "true"}}, accounts=accounts)
        world = build_world(central, spec)
        run_rotation(bench_services(central, create_table=True))  # the first run asks IAM for the report
        built = time.perf_counter() - started
        params = {"users": users, "managed": managed, "concurrency": concurrency, "account": world.account_ids["big"]}
        env = dict(os.environ)
        ikr = measure("moto-ikr", params, env)
        per_user = measure("moto-per-user", params, env)
        os.environ.pop("AWS_ENDPOINT_URL")
    ikr.note = per_user.note = "moto server"
    return ikr, per_user, built


def on_stand_in(
    accounts: int, users: int, managed: int, latency: float, concurrency: int, sample: int
) -> tuple[Figures, Figures]:
    params = {
        "accounts": accounts,
        "users": users,
        "managed": managed,
        "latency": latency,
        "concurrency": concurrency,
        "sample": sample,
    }
    ikr = measure("standin-ikr", params)
    per_user = measure("standin-per-user", params)
    ikr.note = per_user.note = f"stand-in, {latency * 1000:.0f} ms/request"
    return ikr, per_user


# -- the table -----------------------------------------------------------------------------------


def _count(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"


def _wall(figures: Figures) -> str:
    seconds = figures.wall * figures.scale
    text = f"{seconds:,.1f} s" if seconds < 600 else f"{seconds / 3600:,.1f} h"
    return f"{text} (est.)" if figures.scale != 1 else text


def table(rows: list[tuple[str, Figures]]) -> list[str]:
    head = "| size | back end | pattern | IAM | STS | Organizations | DynamoDB | wall time | peak memory |"
    lines = [head, "|" + " --- |" * 9]
    for size, figures in rows:
        pattern = figures.label
        if figures.scale != 1:
            pattern += f" (measured on {figures.accounts} account(s), time x{figures.scale:,.0f})"
        cells = [_count(figures.per_account(service)) for service in SERVICES]
        lines.append(
            f"| {size} | {figures.note} | {pattern} | {' | '.join(cells)} | {_wall(figures)} | "
            f"{figures.peak_mb:,.0f} MB |"
        )
    return lines


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.child:
        _child(args.child, json.loads(args.params))
        return
    quiet()
    print("ikr steady-state scan (nobody due): AWS calls per member account by service, wall time, peak memory")
    rows: list[tuple[str, Figures]] = []
    if not args.skip_moto:
        ikr, per_user, built = on_moto(args.users, args.managed, args.concurrency)
        size = f"1 account x {args.users:,} users ({args.managed} managed)"
        rows += [(size, ikr), (size, per_user)]
        print(f"(moto server: Organization built and first run in {built:.0f} s, not counted)")
    ikr, per_user = on_stand_in(
        args.accounts, args.users, args.managed, args.latency, args.concurrency, args.per_user_sample
    )
    size = f"{args.accounts:,} accounts x {args.users:,} users ({args.managed} managed each)"
    rows += [(size, ikr), (size, per_user)]
    for line in table(rows):
        print(line)
    for (size, ours), (_, theirs) in zip(rows[::2], rows[1::2], strict=True):
        fewer = theirs.per_account("iam") / ours.per_account("iam")
        print(f"{size}: {fewer:,.0f}x fewer IAM calls than the per-user pattern")
    organizations = {name: count for name, count in sorted(ikr.calls.items()) if name.startswith("organizations:")}
    print(f"Organizations calls of the {args.accounts:,}-account run: {organizations}")
    print(f"ikr concurrency: {args.concurrency} accounts at once")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--managed", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added to every stand-in request")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--per-user-sample", type=int, default=1, help="accounts the per-user pattern is timed on")
    parser.add_argument("--skip-moto", action="store_true", help="only the stand-in size")
    parser.add_argument("--child", choices=sorted(_CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--params", default="{}", help=argparse.SUPPRESS)
    return parser


if __name__ == "__main__":
    main()
