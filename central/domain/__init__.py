"""Pure model and policy: keys, users, days, tags, scopes, problems, results. No boto3, no I/O, no clock reads."""
