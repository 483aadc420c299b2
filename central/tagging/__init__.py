"""The helper command that tags IAM users from a JSON file."""
