"""The encrypted values in a pasted mail, from ikr or from aws-iam-key-rotator (the original tool).

Both mail Fernet tokens (the original's `encryption.py` and `central.domain.crypto` make the same
kind), labelled `Access Key:` and `Secret Access Key:` in the text, in bold or in a table cell in
the HTML part. `ikr decrypt` takes a whole mail on stdin: each token once, with its label when it has
one, in the order they appear.
"""

from __future__ import annotations

import re

from central.domain.model import Frozen

# A Fernet token: version byte 0x80 and a 64-bit timestamp whose high bytes are zero for millennia,
# base64url-encoded: it starts "gAAAAA"; at least 57 bytes (73 characters) long.
_TOKEN = re.compile(r"gAAAAA[A-Za-z0-9_\-]{60,}={0,2}")
# The label before a token on its line: "Access Key:", "Secret Access Key:" (HTML tags dropped first).
_LABEL = re.compile(r"([A-Za-z][A-Za-z ]{0,40}?)\s*:\s*$")
_TAG = re.compile(r"<[^>]*>")


class MailedValue(Frozen):
    label: str | None
    token: str


def mailed_values(text: str) -> list[MailedValue]:
    """Every Fernet token in `text`, each once (a mail's text and HTML parts carry the same)."""
    found: list[MailedValue] = []
    seen: set[str] = set()
    for raw_line in text.splitlines():
        line = _TAG.sub(" ", raw_line)
        start = 0
        for match in _TOKEN.finditer(line):
            token = match.group(0)
            if token not in seen:
                seen.add(token)
                label = _LABEL.search(line[start : match.start()])
                found.append(MailedValue(label=label.group(1).strip() if label else None, token=token))
            start = match.end()
    return found
