"""The words of the reminder a user gets before its key is rotated (REMIND_BEFORE_DAYS). Pure:
values in, a Mail out; the same sentence is the webhook notice's text."""

from __future__ import annotations

from datetime import datetime, timedelta
from html import escape

from central.domain.model import Account, Frozen
from central.notify.mail_content import _table
from central.notify.mailers.base import Mail

REMINDER_SUBJECT = "Access Key Rotation Ahead"


class ReminderNotice(Frozen):
    account: Account
    user: str
    email: str
    key_id: str
    due_at: datetime  # the first run at or after this instant rotates the key
    delivery: str  # where the new key goes, in words ("mail to a@example.com", "Secrets Manager secret ikr/x")
    encrypted: bool = False  # a mailed pair is encrypted (ENCRYPT_KEY_PAIR)
    delete_after_days: int  # the old key's life after the rotation
    deactivate_days: int = 0  # DEACTIVATE_BEFORE_DELETE_DAYS: inactive first, deleted this many days later
    verify_use: bool = False  # the old key waits for the new one's first use
    instructions: str = ""
    remind_before_days: int = 0  # how long before the due date the reminder was meant to go


def headline(notice: ReminderNotice) -> str:
    return (
        f"Your access key {notice.key_id} of IAM user {notice.user} in AWS account {notice.account.id} will be "
        f"rotated on {notice.due_at:%Y-%m-%d} (the first ikr run at or after {notice.due_at:%H:%M} UTC)."
    )


def what_happens(notice: ReminderNotice) -> list[str]:
    """The rotation's steps, as they will happen for this user."""
    goes = notice.due_at + timedelta(days=notice.delete_after_days)
    when = f"{goes:%Y-%m-%d} ({notice.delete_after_days} day(s) after the rotation)"
    pair = " as an encrypted pair (decrypt with `ikr decrypt`)" if notice.encrypted else ""
    if notice.deactivate_days:
        fate = (
            f"The old key {notice.key_id} keeps working until {when}; then it is made inactive, and deleted "
            f"{notice.deactivate_days} day(s) later."
        )
    else:
        fate = f"The old key {notice.key_id} keeps working until {when}; then it is deleted."
    if notice.verify_use:
        fate += " It is kept longer while the new key has not been used yet: switch early."
    return [
        f"A new key is made and delivered to {notice.delivery}{pair}.",
        fate,
        "Nothing is needed from you now; after the rotation, put the new key wherever this one is used.",
    ]


def reminder_mail(notice: ReminderNotice) -> Mail:
    account = f"{notice.account.name} ({notice.account.id})"
    rows = [
        ("Account", account),
        ("IAM user", notice.user),
        ("Access Key", notice.key_id),
        ("Rotated on", f"{notice.due_at:%Y-%m-%d}"),
    ]
    steps = what_happens(notice)
    extra = [f"Instructions: {notice.instructions}"] if notice.instructions else []
    lines = [
        f"Hello {notice.user},",
        "",
        headline(notice),
        "",
        *(f"{label}: {value}" for label, value in rows),
        "",
        "Here is what will happen:",
        *(f"- {step}" for step in steps),
        *(["", *extra] if extra else []),
        "",
        "-- ikr, IAM key rotation",
    ]
    html = (
        f"<html><body><p>Hello {escape(notice.user)},</p><p>{escape(headline(notice))}</p>"
        + _table(rows)
        + "<p>Here is what will happen:</p><ul>"
        + "".join(f"<li>{escape(step)}</li>" for step in steps)
        + "</ul>"
        + "".join(f"<p>{escape(line)}</p>" for line in extra)
        + "<p>-- ikr, IAM key rotation</p></body></html>"
    )
    subject = f"{REMINDER_SUBJECT}: {notice.key_id} of {notice.user} in {account} on {notice.due_at:%Y-%m-%d}"
    return Mail(to=notice.email, subject=subject, text="\n".join(lines), html=html)
