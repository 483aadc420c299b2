"""Wall time and AWS calls of a steady-state run over many member accounts (moto in process).

Run with `make bench` (or `python -m tests.bench.many_accounts 500`). Building the Organization
is timed apart from the run. Counts are exact; the time is for orientation only.
"""

from __future__ import annotations

import sys
import time
from collections import Counter

import boto3
from moto import mock_aws

from central.run import run_rotation
from tests.bench.scan_cost import bench_services, counting, in_process_emulator
from tests.support.world import AccountSpec, OrgSpec, UserSpec, build_world

USERS_PER_ACCOUNT = 5


def main(accounts: int) -> None:
    in_process_emulator()
    with mock_aws():
        central = boto3.Session(region_name="us-east-1")
        started = time.perf_counter()
        users = [UserSpec(f"u{i}", {"IKR:EMAIL": f"u{i}@example.com"}) for i in range(USERS_PER_ACCOUNT)]
        build_world(
            central,
            OrgSpec(
                ous={"Workloads": {"IKR:ENABLED": "true"}},
                accounts=[AccountSpec(f"a{n}", "Workloads", users=users) for n in range(accounts)],
            ),
        )
        built = time.perf_counter() - started
        services = bench_services(central)
        started = time.perf_counter()
        with counting() as calls:
            result = run_rotation(services)
        elapsed = time.perf_counter() - started
    by_service = Counter[str]()
    for name, count in calls.items():
        by_service[name.split(":")[0]] += count
    print(f"steady-state run: {accounts} member accounts x {USERS_PER_ACCOUNT} managed users, none due")
    print(f"  exit code {result.exit_code}; calls by service: {dict(sorted(by_service.items()))}")
    print(f"  run wall time {elapsed:.1f} s (Organization built in {built:.1f} s, not counted)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
