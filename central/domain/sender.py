"""MAIL_FROM, as the original tool took it: an address, or a display name with one
(`IAM Key Rotator <ikr@example.com>`). The From header is the value as given; the bare address is
what an SMTP envelope and login need."""

from __future__ import annotations

from email.utils import parseaddr

from email_validator import EmailNotValidError, validate_email

from central.domain.model import Frozen


class Sender(Frozen):
    header: str  # the From header: MAIL_FROM as given (surrounding blanks dropped)
    address: str  # the address alone


def parse_sender(text: str) -> Sender:
    """Raises ValueError (a settings error naming MAIL_FROM) for anything but one address, with or
    without a display name."""
    header = text.strip()
    name, address = parseaddr(header)
    # parseaddr takes "a@b, c@d" or "x" apart without complaint: the address must be the whole value,
    # or sit in the one pair of angle brackets at its end.
    bracketed = header.endswith(f"<{address}>") and header.count("<") == 1
    if not address or not (header == address or bracketed):
        raise ValueError(f"{header!r} is not an address, nor a display name with one (Name <address>)")
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"{address!r} is not a valid address: {exc}") from None
    if "\n" in name or "\r" in name:
        raise ValueError("the display name must be on one line")
    return Sender(header=header, address=address)
