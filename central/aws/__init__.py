"""Adapters: the only code that talks to AWS (boto3, botocore, ClientError)."""
