"""`make bench-warm`: what a Lambda pays per invocation, cold and warm, and per account message.

A Lambda execution environment imports a handler once and then serves invocation after invocation
in the same process. What the first invocation builds (settings, the central account's session and
clients, the botocore loader that decodes service models, member-account sessions) a later one may
reuse or build again. Each scenario runs in a fresh interpreter against the in-memory stand-in
(`tests/bench/standin.py`, no latency: only CPU counts), with the handler modules imported before
the clock starts (Lambda's init phase), and counts what it builds by wrapping botocore:

- sessions: `botocore.session.Session.__init__` (every boto3.Session makes one);
- clients: `botocore.session.Session.create_client`;
- loaders: `botocore.loaders.create_loader` (each new loader decodes the service models again);
- models: JSON files botocore decoded (service models, endpoint rules, partitions; the loader's cost);
- AssumeRole: the requests the stand-in answered.

Scenarios:
- set-up: the destructor with an empty batch, twice (settings, services and clients, no work);
- rotator: the scheduled run in process over every account, twice;
- account worker: one invocation with N account messages, then N invocations of one message each
  (the same accounts again, as the next run's messages would come).

    python -m tests.bench.warm [--accounts 20] [--users 100] [--managed 10] [--messages 10]
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import botocore.loaders
import botocore.session

from tests.bench.common import TABLE, bench_parser, measure_in_child, serve_child
from tests.bench.standin import StandIn

Figures = dict[str, float]
COLUMNS = ("cpu", "sessions", "clients", "loaders", "models", "assume_role")
SCENARIOS = ("setup", "rotator", "worker")
HEADINGS = ("CPU s", "sessions", "clients", "loaders", "models", "AssumeRole")


@contextmanager
def building() -> Iterator[Counter[str]]:
    """What botocore builds inside the block: sessions, clients, loaders and decoded JSON files."""
    built: Counter[str] = Counter()
    session_init = botocore.session.Session.__init__
    create_client = botocore.session.Session.create_client
    create_loader = botocore.loaders.create_loader
    load_file = botocore.loaders.JSONFileLoader.load_file

    def count(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            if name != "models" or result is not None:  # load_file answers None for a file not there
                built[name] += 1
            return result

        return counted

    with (
        mock.patch.object(botocore.session.Session, "__init__", count("sessions", session_init)),
        mock.patch.object(botocore.session.Session, "create_client", count("clients", create_client)),
        # botocore.session calls it by the name it imported; ikr by the module's
        mock.patch.object(botocore.session, "create_loader", count("loaders", create_loader)),
        mock.patch.object(botocore.loaders, "create_loader", count("loaders", create_loader)),
        mock.patch.object(botocore.loaders.JSONFileLoader, "load_file", count("models", load_file)),
    ):
        yield built


class _Context:
    """The Lambda context Powertools reads; plenty of time left."""

    function_name = "ikr-bench"
    function_version = "$LATEST"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:ikr-bench"
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def _invoke(stand_in: StandIn, handler: Callable[[dict[str, Any], Any], Any], event: dict[str, Any]) -> Figures:
    before = stand_in.requests["sts:AssumeRole"]
    with building() as built:
        started = time.process_time()
        handler(event, _Context())
        cpu = time.process_time() - started
    counts = {name: float(built[name]) for name in COLUMNS[1:-1]}  # the Counter leaves out what was not built
    return {"cpu": cpu, **counts, "assume_role": stand_in.requests["sts:AssumeRole"] - before}


def _account_message(stand_in: StandIn, account_id: str, position: int) -> dict[str, Any]:
    body = {
        "run_id": "bench-run",
        "now": datetime.now(UTC).isoformat(),
        "account": {"id": account_id, "name": f"member-{account_id}"},
        "enabled_source": "OU Workloads",
        "rotate_after": {"days": 85, "source": "default"},
        "delete_after": {"days": 5, "source": "default"},
    }
    return {
        "messageId": f"m-{position}",
        "receiptHandle": f"r-{position}",
        "body": json.dumps(body),
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:ikr-accounts",
        "awsRegion": "us-east-1",
    }


def _child(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    os.environ.update(MAIL_FROM="ikr@example.com", IAM_KEY_ROTATOR_TABLE=TABLE)
    stand_in = StandIn(params["accounts"], params["users"], params["managed"], latency=0.0)
    with stand_in.installed():
        started = time.process_time()
        from handlers import account_worker, destructor, rotator  # Lambda's init phase

        imports = time.process_time() - started
        if kind == "setup":
            runs = [_invoke(stand_in, destructor.handler, {"Records": []}) for _ in range(2)]
        elif kind == "rotator":
            runs = [_invoke(stand_in, rotator.handler, {"source": "aws.events"}) for _ in range(2)]
        else:
            accounts = stand_in.members[: params["messages"]]
            batch = [_account_message(stand_in, account, n) for n, account in enumerate(accounts)]
            runs = [_invoke(stand_in, account_worker.handler, {"Records": batch})]
            singles = [_invoke(stand_in, account_worker.handler, {"Records": [record]}) for record in batch]
            runs.append({name: sum(run[name] for run in singles) for name in COLUMNS})
    return {"imports": imports, "runs": runs}


def _measure(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    return measure_in_child("tests.bench.warm", kind, params)


def _row(label: str, figures: Figures, per: int = 1) -> str:
    cells = [f"{figures['cpu'] / per:>9.3f}"] + [f"{figures[name] / per:>11.1f}" for name in COLUMNS[1:]]
    return f"{label:44}" + "".join(cells)


def main(argv: list[str] | None = None) -> None:
    parser = bench_parser(__doc__, accounts=20, users=100, managed=10, children=SCENARIOS)
    parser.add_argument("--messages", type=int, default=10)
    args = parser.parse_args(argv)
    if args.child:
        serve_child(lambda params: _child(args.child, params), args.params)
        return
    params = {"accounts": args.accounts, "users": args.users, "managed": args.managed, "messages": args.messages}
    setup, rotator, worker = (_measure(kind, params) for kind in SCENARIOS)
    n = args.messages
    print(
        f"stand-in: {args.accounts} accounts x {args.users} users ({args.managed} managed); "
        f"handler imports {setup['imports']:.2f} s CPU (once per environment, not counted below)"
    )
    print(f"{'':44}{HEADINGS[0]:>9}" + "".join(f"{name:>11}" for name in HEADINGS[1:]))
    print("set-up only (destructor, empty batch)")
    print(_row("  1st invocation", setup["runs"][0]))
    print(_row("  2nd invocation (warm)", setup["runs"][1]))
    print(f"rotator, in process, {args.accounts} accounts")
    print(_row("  1st invocation", rotator["runs"][0]))
    print(_row("  2nd invocation (warm)", rotator["runs"][1]))
    print(f"account worker, {n} account messages, per message")
    print(_row(f"  1 invocation of {n} messages (the first)", worker["runs"][0], n))
    print(_row(f"  then {n} invocations of 1 message (warm)", worker["runs"][1], n))


if __name__ == "__main__":
    main()
