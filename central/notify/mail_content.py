"""The words of the mail a user gets with a new key. Pure: values in, a Mail out."""

from __future__ import annotations

from datetime import datetime
from html import escape

from pydantic import SecretStr

from central.domain.model import Account, Frozen
from central.notify.mailers.base import Mail


class NewKeyNotice(Frozen):
    account: Account
    account_alias: str = ""  # the account's IAM alias ("" when it has none), as the original named it
    user: str
    email: str
    new_key_id: str
    secret: SecretStr  # the secret access key, or its Fernet ciphertext when encrypted
    encrypted_key_id: str | None = None  # set when the pair is encrypted
    key_parameter: str = ""  # the SSM parameter holding the user's encryption key, when encrypted
    old_key_id: str
    old_key_deleted_at: datetime  # when the old key stops working (deleted, or first deactivated)
    deactivate_days: int = 0  # >0: the old key is made Inactive then, and deleted this many days later
    instructions: str = ""


# The original tool's mail contract, which its users' mail filters and runbooks read: the subjects
# hold these words, the text these labels, and the account is `Account: <id> (<IAM account alias>)`.
NEW_KEY_SUBJECT = "New Access Key Pair"
DELETED_SUBJECT = "Old Access Key Pair Deleted"


def account_line(account_id: str, alias: str) -> tuple[str, str]:
    return ("Account", f"{account_id} ({alias})")


def _table(rows: list[tuple[str, str]]) -> str:
    # "Label:" in the cell too, so a runbook reading the HTML with its tags stripped finds the same labels.
    cells = "".join(
        f"<tr><th align='left'>{escape(label)}:</th><td><code>{escape(value)}</code></td></tr>" for label, value in rows
    )
    return f"<table>{cells}</table>"


def new_key_mail(notice: NewKeyNotice) -> Mail:
    account = f"{notice.account.name} ({notice.account.id})"
    deleted = f"{notice.old_key_deleted_at:%Y-%m-%d %H:%M} UTC"
    if notice.deactivate_days:
        fate = (
            f"Your old key {notice.old_key_id} stops working when it is made inactive at {deleted}; it is "
            f"deleted {notice.deactivate_days} day(s) later (until then an administrator can reactivate it)."
        )
    else:
        fate = f"Your old key {notice.old_key_id} stops working when it is deleted at {deleted}."
    secret = notice.secret.get_secret_value()
    if notice.encrypted_key_id is not None:
        pair = [("Access Key", notice.encrypted_key_id), ("Secret Access Key", secret)]
        how = (
            "The Access Key and the Secret Access Key above are encrypted with a key kept for you in this "
            f"account's SSM Parameter Store at {notice.key_parameter}. Decrypt each value with:  ikr decrypt "
            f"--user {notice.user} <value>  (with your own credentials in account {notice.account.id}), or give "
            "it this whole mail on stdin, or use any Fernet implementation and that parameter's value. "
            f"Decrypt before {deleted}: the encryption key is removed together with the old key."
        )
    else:
        pair = [("Access Key", notice.new_key_id), ("Secret Access Key", secret)]
        how = ""
    rows = [
        account_line(notice.account.id, notice.account_alias),
        ("IAM user", notice.user),
        *pair,
        ("Instruction", notice.instructions),
    ]
    subject = f"{NEW_KEY_SUBJECT} for {notice.user} in {account}"
    lines = [
        f"Hello {notice.user},",
        "",
        f"A new access key pair was made for IAM user {notice.user} in AWS account {account}.",
        "Please put it wherever the old key is used.",
        "",
        *(f"{label}: {value}" for label, value in rows),
        "",
        *([how, ""] if how else []),
        fate,
        "",
        "-- ikr, IAM key rotation",
    ]
    html = (
        f"<html><body><p>Hello {escape(notice.user)},</p>"
        f"<p>A new access key pair was made for IAM user <b>{escape(notice.user)}</b> in AWS account "
        f"<b>{escape(account)}</b>. Please put it wherever the old key is used.</p>"
        + _table(rows)
        + (f"<p>{escape(how)}</p>" if how else "")
        + f"<p>{escape(fate)}</p>"
        + "<p>-- ikr, IAM key rotation</p></body></html>"
    )
    return Mail(to=notice.email, subject=subject, text="\n".join(lines), html=html)


class OldKeyDeletedNotice(Frozen):
    """For the user: the old key was deleted at the end of its time (the original's deletion mail)."""

    account_id: str
    account_alias: str = ""
    user: str
    email: str
    old_key_id: str
    new_key_id: str | None = None


def old_key_deleted_mail(notice: OldKeyDeletedNotice) -> Mail:
    rows = [account_line(notice.account_id, notice.account_alias), ("IAM user", notice.user)]
    rows.append(("Access Key", notice.old_key_id))
    now_use = f" Use the new key {notice.new_key_id}." if notice.new_key_id else ""
    lines = [
        f"Hello {notice.user},",
        "",
        f"The old access key pair {notice.old_key_id} of IAM user {notice.user} in AWS account {notice.account_id} "
        f"was deleted: it reached the end of its life.{now_use}",
        "",
        *(f"{label}: {value}" for label, value in rows),
        "",
        "-- ikr, IAM key rotation",
    ]
    subject = f"{DELETED_SUBJECT}: {notice.old_key_id} of {notice.user} in {notice.account_id}"
    html = (
        f"<html><body><p>Hello {escape(notice.user)},</p><p>{escape(lines[2])}</p>"
        + _table(rows)
        + "<p>-- ikr, IAM key rotation</p></body></html>"
    )
    return Mail(to=notice.email, subject=subject, text="\n".join(lines), html=html)


class LastUse(Frozen):
    """Where an access key was last used, as GetAccessKeyLastUsed tells it."""

    at: datetime
    service: str
    region: str


class OldKeyStillUsedNotice(Frozen):
    account_id: str
    user: str
    email: str
    old_key_id: str
    new_key_id: str | None
    last_use: LastUse
    action: str  # what happens to the old key now: "deleted" or "made inactive"
    deleted_at: datetime | None = None  # when it is deleted, if it is only made inactive now


def old_key_still_used_mail(notice: OldKeyStillUsedNotice) -> Mail:
    used = f"{notice.last_use.at:%Y-%m-%d %H:%M} UTC by {notice.last_use.service} in {notice.last_use.region}"
    then = f"; it is deleted at {notice.deleted_at:%Y-%m-%d %H:%M} UTC" if notice.deleted_at else ""
    new = f"the new key {notice.new_key_id}" if notice.new_key_id else "your new key"
    lines = [
        f"Hello {notice.user},",
        "",
        f"The old access key {notice.old_key_id} of IAM user {notice.user} in AWS account {notice.account_id} "
        f"was still used after its replacement was mailed to you: last used {used}.",
        f"It is {notice.action} now{then}. Whatever used it must switch to {new}.",
        "",
        "-- ikr, IAM key rotation",
    ]
    subject = f"Old AWS access key of {notice.user} in {notice.account_id} was still in use"
    html = "<html><body>" + "".join(f"<p>{escape(line)}</p>" for line in lines if line) + "</body></html>"
    return Mail(to=notice.email, subject=subject, text="\n".join(lines), html=html)


class StoredKeyNotice(Frozen):
    """For the owner of a machine user: where the new key was written; never the key itself."""

    account: Account
    user: str
    email: str
    new_key_id: str
    where: str  # e.g. "Secrets Manager secret ikr/ci/deployer"
    version: str
    old_key_id: str
    old_key_deleted_at: datetime
    deactivate_days: int = 0
    verify_use: bool = False
    instructions: str = ""


def new_key_stored_mail(notice: StoredKeyNotice) -> Mail:
    account = f"{notice.account.name} ({notice.account.id})"
    when = f"{notice.old_key_deleted_at:%Y-%m-%d %H:%M} UTC"
    retire = "made inactive" if notice.deactivate_days else "deleted"
    if notice.verify_use:
        fate = (
            f"The old key {notice.old_key_id} is {retire} at {when} or later: ikr keeps it until the new key "
            "has been used, and tells you each day it is still waiting."
        )
    else:
        fate = f"The old key {notice.old_key_id} is {retire} at {when}."
    lines = [
        f"Hello {notice.user} owner,",
        "",
        f"A new access key {notice.new_key_id} was made for IAM user {notice.user} in AWS account {account}.",
        f"It was written to {notice.where} (version {notice.version}) in that account, as JSON with the fields "
        "AccessKeyId and SecretAccessKey. The secret is not in this mail.",
        "Whatever reads the key from there picks up the new one on its next read.",
        "",
        fate,
        *(["", f"Instructions: {notice.instructions}"] if notice.instructions else []),
        "",
        "-- ikr, IAM key rotation",
    ]
    subject = f"New AWS access key for {notice.user} in {account} is in {notice.where}"
    html = "<html><body>" + "".join(f"<p>{escape(line)}</p>" for line in lines if line) + "</body></html>"
    return Mail(to=notice.email, subject=subject, text="\n".join(lines), html=html)


class SwitchPendingNotice(Frozen):
    """For the owner of a user whose new key has not been used yet (IKR:VERIFY_USE)."""

    account_id: str
    user: str
    email: str
    new_key_id: str
    old_key_id: str
    where: str  # where the new key was delivered, in words
    retire_by: datetime  # when the old key goes even if the new one stays unused
    forced: bool = False  # True: that time has come and the old key was retired anyway
    action: str = "deleted"  # or "made inactive"


def switch_pending_mail(notice: SwitchPendingNotice) -> Mail:
    by = f"{notice.retire_by:%Y-%m-%d %H:%M} UTC"
    head = (
        f"The new access key {notice.new_key_id} of IAM user {notice.user} in AWS account {notice.account_id} "
        f"({notice.where}) has not been used yet."
    )
    if notice.forced:
        subject = f"Old AWS access key of {notice.user} in {notice.account_id} {notice.action} without a switch"
        body = [
            head,
            f"The grace time ended at {by}, so the old key {notice.old_key_id} was {notice.action} anyway.",
            "Whatever still used it fails now: give it the new key.",
        ]
    else:
        subject = f"Waiting for {notice.user} in {notice.account_id} to switch to its new AWS access key"
        body = [
            head,
            f"So the old key {notice.old_key_id} is kept for now; ikr looks again in a day and retires it once the "
            f"new key is in use, or at {by} at the latest.",
        ]
    lines = [f"Hello {notice.user} owner,", "", *body, "", "-- ikr, IAM key rotation"]
    html = "<html><body>" + "".join(f"<p>{escape(line)}</p>" for line in lines if line) + "</body></html>"
    return Mail(to=notice.email, subject=subject, text="\n".join(lines), html=html)
