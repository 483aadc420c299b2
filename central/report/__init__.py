"""The org-wide report, the dry-run plan's companions and `ikr explain`.

- `rows`: the pydantic records (and the JSON schema generated from them)
- `build`: pure, one account's IAM users + credential report + expiry items -> rows
- `collect`: the AWS side (discovery, member accounts, the expiry table), reading only
- `render_text` (table, CSV, JSON) and `render_html`: pure renderers
- `explain`: one user's decision step by step through the tag chain
- `notices`: a run's metrics, its admin notice and readable outcome log lines
- `publish`: the reporter's S3 upload and its admin summary
"""
