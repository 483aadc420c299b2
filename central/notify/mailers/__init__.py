"""Mail back ends behind one interface, chosen by MAIL_CLIENT."""

from __future__ import annotations

from typing import TYPE_CHECKING

from central.aws import clients as aws
from central.aws.parameters import CentralParameters
from central.aws.ses import SesSender, TimeLeft, no_deadline
from central.notify.mailers.base import Mail, Mailer, read_secret_parameter
from central.notify.mailers.ses import SesMailer
from central.notify.mailers.smtp import SmtpMailer
from central.settings import MailClient, Settings

if TYPE_CHECKING:
    from central.aws.sessions import Session

# MailgunMailer is in `central.notify.mailers.mailgun`: it loads requests, so only a Mailgun set-up imports it.
__all__ = ["Mail", "Mailer", "SesMailer", "SmtpMailer", "build_mailer"]


def build_mailer(settings: Settings, central: Session, time_left: TimeLeft = no_deadline) -> Mailer:
    """The configured mailer. `time_left`: seconds the Lambda invocation has left (None: no deadline),
    past which SES's sending-rate throttle is not retried (`central.aws.ses`)."""
    sender = settings.sender.header  # display name and all: the From header as MAIL_FROM gives it
    if settings.MAIL_CLIENT is MailClient.SES:
        return SesMailer(SesSender(aws.ses(central), time_left), sender)
    parameters = CentralParameters(central)
    if settings.MAIL_CLIENT is MailClient.MAILGUN:
        from central.notify.mailers.mailgun import MailgunMailer  # noqa: PLC0415 - see __all__

        assert settings.MAILGUN_API_URL  # the settings model checks both
        assert settings.MAILGUN_API_KEY_NAME
        key_name = settings.MAILGUN_API_KEY_NAME
        return MailgunMailer(
            settings.MAILGUN_API_URL,
            sender,
            api_key=lambda: read_secret_parameter(parameters.secret, key_name, "Mailgun API key"),
        )
    assert settings.SMTP_SERVER
    password_name = settings.SMTP_PASSWORD_PARAMETER
    return SmtpMailer(
        settings.SMTP_SERVER,
        settings.SMTP_PORT,
        settings.SMTP_PROTOCOL,
        sender,
        settings.smtp_user,
        password=(lambda: read_secret_parameter(parameters.secret, password_name, "SMTP password"))
        if password_name
        else None,
    )
