"""Adapters: the only code that talks to AWS (boto3, botocore, ClientError)."""

import importlib
import os

# Tests only: IKR_AWS_TEST_HOOKS names a module that, imported, registers botocore event handlers for
# every session made afterwards (the strict AWS layer, tests/support/strict_aws.py, in the `ikr` the
# end-to-end tests run as a subprocess). It runs before any adapter makes a session. Unset, as in
# production, this costs one environment look-up at import.
if _test_hooks := os.environ.get("IKR_AWS_TEST_HOOKS"):
    importlib.import_module(_test_hooks)
