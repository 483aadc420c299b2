"""Moving from aws-iam-key-rotator: taking over its pending deletions (`ikr import-original`)."""
