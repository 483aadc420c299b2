"""The one settings model, read from the environment once at start-up.

Names and defaults are the original tool's where it has them, so its users' configuration keeps
working. Secrets are never settings: only the names of SSM parameters that hold them.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from central.domain import bounds
from central.domain.errors import SettingsError
from central.domain.sender import Sender, parse_sender


class MailClient(StrEnum):
    SES = "ses"
    MAILGUN = "mailgun"
    SMTP = "smtp"


class SmtpProtocol(StrEnum):
    SSL = "ssl"  # implicit TLS, usually port 465
    TLS = "tls"  # STARTTLS, usually port 587
    PLAIN = "plain"  # no TLS at all: only for a relay on localhost


class RetryMode(StrEnum):
    STANDARD = "standard"  # jittered exponential back-off on throttling and transient errors
    ADAPTIVE = "adaptive"  # standard plus a client-side rate limiter that slows down when throttled


class FromEnvironment(BaseModel):
    """A model whose fields are environment variables of the same name (exactly: case matters), and
    whose keyword arguments win over them. Every setting is one scalar, so pydantic's own parsing of
    the string is all there is to it; pydantic-settings did the same for about 140 ms of every Lambda
    cold start (its import pulls in asyncio, dotenv and a CLI parser ikr never uses)."""

    # Defaults are validated too (as pydantic-settings did): a bad default fails at start-up, loudly.
    model_config = ConfigDict(frozen=True, extra="ignore", validate_default=True)

    def __init__(self, **values: Any) -> None:
        environment = {name: os.environ[name] for name in type(self).model_fields if name in os.environ}
        super().__init__(**{**environment, **values})


class AccessSettings(FromEnvironment):
    """What every command needs to reach the table and the member accounts (no mail settings)."""

    IAM_KEY_ROTATOR_TABLE: str = Field("ikr-expiry", min_length=3, max_length=255, pattern=r"^[A-Za-z0-9_.-]+$")
    IKR_MEMBER_ROLE_NAME: str = Field("ikr-member", pattern=r"^[A-Za-z0-9_+=,.@-]{1,64}$")
    IKR_EXTERNAL_ID: str | None = Field(None, min_length=2, max_length=1224)
    IKR_NOW: datetime | None = None
    IKR_ALLOW_CLOCK_OVERRIDE: bool = Field(
        False, description="let --now / IKR_NOW change keys against real AWS endpoints (never inside Lambda)"
    )
    # botocore's own retries, one Config for every client: no call site loops by hand.
    IKR_AWS_MAX_ATTEMPTS: int = Field(8, ge=1, le=20, description="attempts per AWS call, first one included")
    IKR_AWS_RETRY_MODE: RetryMode = RetryMode.STANDARD

    @field_validator("IKR_NOW")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)  # an instant without zone is taken as UTC
        return value if value is None else bounds.check_now(value)

    @field_validator("IKR_ALLOW_CLOCK_OVERRIDE", mode="before")
    @classmethod
    def _on_or_off(cls, value: object) -> object:
        # Only the plain spellings: "yes please" or "2" must not unlock a turned clock by accident.
        if isinstance(value, str):
            word = value.strip().lower()
            if word in ("1", "true"):
                return True
            if word in ("", "0", "false"):
                return False
            raise ValueError("must be 1 or true to allow a turned clock, 0 or false (or unset) to refuse it")
        return value


_API_URL = r"^https?://[^\s/?#]+(/[^\s?#]*)?$"  # a base URL: scheme, host, optional path; no query
_SECRET_NAME = r"^[A-Za-z0-9/_+=.@-]{1,512}$"  # noqa: S105 - a pattern of Secrets Manager's secret name characters


class Settings(AccessSettings):
    """Everything the rotator and destructor read."""

    # Upper bounds (central/domain/bounds.py) keep every span these make within datetime's range.
    ROTATE_AFTER_DAYS: int = Field(85, gt=0, le=bounds.MAX_DAYS, description="days after which a key is rotated")
    DELETE_AFTER_DAYS: int = Field(5, gt=0, le=bounds.MAX_DAYS, description="days the old key lives after rotation")
    REMIND_BEFORE_DAYS: int = Field(
        7, ge=0, le=bounds.MAX_DAYS, description="days before a key is due that its user is reminded once (0: never)"
    )
    ENCRYPT_KEY_PAIR: bool = True
    MAIL_CLIENT: MailClient = MailClient.SES
    # As given, display name included ("IAM Key Rotator <ikr@example.com>"): the From header of every mail.
    MAIL_FROM: str | None = None
    RETRY_AFTER_MINS: int = Field(
        5, gt=0, le=bounds.MAX_RETRY_MINS, description="minutes before a failed destruction is tried again"
    )
    SMTP_SERVER: str | None = None
    SMTP_PORT: int = Field(465, gt=0, lt=65536)
    SMTP_PROTOCOL: SmtpProtocol = SmtpProtocol.SSL
    SMTP_USER: str | None = None
    SMTP_PASSWORD_PARAMETER: str | None = None
    MAILGUN_API_URL: str | None = None
    MAILGUN_API_KEY_NAME: str | None = None
    ADMIN_EMAIL: EmailStr | None = Field(None, description="who is told of failures and gets the report summary")
    IKR_MAX_DESTROY_ATTEMPTS: int = Field(
        10, ge=1, le=bounds.MAX_DESTROY_ATTEMPTS, description="destruction attempts before an item is `failed`"
    )
    DEACTIVATE_BEFORE_DELETE_DAYS: int = Field(
        0,
        ge=0,
        le=bounds.MAX_WINDOW_DAYS,
        description="days an old key stays Inactive before it is deleted (0: delete at once)",
    )
    EXPOSED_DELETE_AFTER_DAYS: int = Field(
        1,
        gt=0,
        le=bounds.MAX_DAYS,
        description="days an exposed key (AWS_RISK_CREDENTIALS_EXPOSED) stays Inactive before it is deleted",
    )
    IKR_LEASE_MINUTES: int = Field(
        20,
        ge=1,
        le=60,
        description="how long a run owns a user's rotation before another run may take it over as crashed "
        "(longer than the longest Lambda timeout, 15 minutes)",
    )
    IKR_CONCURRENCY: int = Field(16, ge=1, le=256, description="accounts worked at once by one process")
    IKR_ACCOUNT_QUEUE_URL: str | None = Field(None, description="SQS queue of the account worker (fan-out on AWS)")
    IKR_REPORT_BUCKET: str | None = Field(None, description="S3 bucket the reporter writes the report to")
    DELIVERY_PREFIX: str = Field(
        "ikr/",
        pattern=r"^[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*/$",
        description="IKR:DELIVERY targets must lie under it: secret names start with it, parameter names with /it",
    )
    VERIFY_USE_GRACE_DAYS: int = Field(
        14,
        ge=0,
        le=bounds.MAX_WINDOW_DAYS,
        description="days past the deletion time an unused new key holds the old key back",
    )
    # github:/gitlab: delivery targets (central.cistores). The tokens are secrets: kept in Secrets Manager
    # in the central account and named here, never a value in the environment or a tag.
    GITHUB_API_URL: str = Field(
        "https://api.github.com",
        pattern=_API_URL,
        description="GitHub's REST API (GitHub Enterprise Server: https://HOST/api/v3)",
    )
    GITHUB_TOKEN_SECRET_NAME: str | None = Field(
        None,
        pattern=_SECRET_NAME,
        description="Secrets Manager secret (central account) holding the GitHub token for github: deliveries",
    )
    GITHUB_APP_ID: str | None = Field(
        None,
        pattern=r"^([0-9]{1,12}|Iv[0-9A-Za-z.]{1,40})$",
        description="a GitHub App's id or client id: github: targets are written with its installation tokens",
    )
    GITHUB_APP_PRIVATE_KEY_SECRET_NAME: str | None = Field(
        None,
        pattern=_SECRET_NAME,
        description="Secrets Manager secret (central account) holding the GitHub App's private key (PEM)",
    )
    GITLAB_API_URL: str = Field(
        "https://gitlab.com/api/v4",
        pattern=_API_URL,
        description="GitLab's REST API (self-managed: https://HOST/api/v4)",
    )
    GITLAB_TOKEN_SECRET_NAME: str | None = Field(
        None,
        pattern=_SECRET_NAME,
        description="Secrets Manager secret (central account) holding the GitLab token for gitlab: deliveries",
    )
    # The webhook URL holds its token: a secret. Better kept in SSM and named here.
    NOTIFY_WEBHOOK_URL: SecretStr | None = Field(None, description="where notices are POSTed as JSON")
    NOTIFY_WEBHOOK_URL_PARAMETER: str | None = Field(None, description="SSM parameter holding the webhook URL")
    # Every notice also goes to EventBridge (source `ikr`): a bus name or ARN, or `off`.
    EVENT_BUS: str = Field(
        "default",
        pattern=r"^(off|[A-Za-z0-9._/-]{1,256}|arn:aws[a-z-]*:events:[a-z0-9-]+:[0-9]{12}:event-bus/[A-Za-z0-9._/-]{1,256})$",
        description="EventBridge bus the lifecycle events go to (name or ARN; `off`: none)",
    )
    # The original tool's README once called ROTATE_AFTER_DAYS this; its code never read it.
    ACCESS_KEY_AGE: str | None = Field(None, exclude=True)
    # The original's Terraform sets it to the account it runs in (its mails' "Account:" line). ikr names
    # every account by the id it works in; a value here must be an account id, and is otherwise unused.
    ACCOUNT_ID: str | None = Field(None, pattern=r"^[0-9]{12}$", exclude=True)

    @field_validator("ENCRYPT_KEY_PAIR", mode="before")
    @classmethod
    def _exactly_true_or_false(cls, value: object) -> object:
        # The original encrypts unless the value is exactly "false"; pydantic would read "False", "0",
        # "no" or "off" as off. Only the two words are taken, so no spelling sends a key in plain text
        # where the original would have encrypted it.
        if isinstance(value, str):
            if value == "true":
                return True
            if value == "false":
                return False
            raise ValueError("must be exactly true (encrypt the mailed key pair) or false (mail it in plain text)")
        return value

    @field_validator("SMTP_PROTOCOL", mode="before")
    @classmethod
    def _protocol_any_case(cls, value: object) -> object:
        # The original compares SMTP_PROTOCOL.lower(): "SSL" and "TLS" worked there.
        return value.lower() if isinstance(value, str) else value

    @field_validator("MAIL_FROM")
    @classmethod
    def _sender(cls, value: str | None) -> str | None:
        return None if value is None else parse_sender(value).header

    @model_validator(mode="after")
    def _no_misnamed_age(self) -> Settings:
        if self.ACCESS_KEY_AGE not in (None, str(self.ROTATE_AFTER_DAYS)):
            raise ValueError(
                f"ACCESS_KEY_AGE={self.ACCESS_KEY_AGE} is not read (the original tool's README misnamed "
                f"ROTATE_AFTER_DAYS, now {self.ROTATE_AFTER_DAYS}): set ROTATE_AFTER_DAYS and remove ACCESS_KEY_AGE"
            )
        return self

    @model_validator(mode="after")
    def _mailer_complete(self) -> Settings:
        if self.MAIL_FROM is None:
            raise ValueError("MAIL_FROM is required: the address mails are sent from")
        if self.MAIL_CLIENT is MailClient.SMTP and not self.SMTP_SERVER:
            raise ValueError("SMTP_SERVER is required when MAIL_CLIENT=smtp")
        if self.MAIL_CLIENT is MailClient.MAILGUN and not (self.MAILGUN_API_URL and self.MAILGUN_API_KEY_NAME):
            raise ValueError("MAILGUN_API_URL and MAILGUN_API_KEY_NAME are required when MAIL_CLIENT=mailgun")
        return self

    @model_validator(mode="after")
    def _one_webhook(self) -> Settings:
        if self.NOTIFY_WEBHOOK_URL is not None and self.NOTIFY_WEBHOOK_URL_PARAMETER:
            raise ValueError("set NOTIFY_WEBHOOK_URL or NOTIFY_WEBHOOK_URL_PARAMETER, not both")
        if self.NOTIFY_WEBHOOK_URL is not None:
            scheme = self.NOTIFY_WEBHOOK_URL.get_secret_value().split("://", 1)[0].lower()
            if scheme not in ("https", "http"):
                raise ValueError("NOTIFY_WEBHOOK_URL must be an https:// URL")  # never echo the URL
        return self

    @model_validator(mode="after")
    def _one_github_credential(self) -> Settings:
        if bool(self.GITHUB_APP_ID) != bool(self.GITHUB_APP_PRIVATE_KEY_SECRET_NAME):
            raise ValueError("GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY_SECRET_NAME go together: set both or neither")
        if self.GITHUB_APP_ID and self.GITHUB_TOKEN_SECRET_NAME:
            raise ValueError("set GITHUB_TOKEN_SECRET_NAME or the GitHub App (GITHUB_APP_ID), not both")
        return self

    @property
    def sender(self) -> Sender:
        """MAIL_FROM as the From header (as given) and as the bare address (SMTP envelope, login)."""
        assert self.MAIL_FROM is not None  # _mailer_complete requires it
        return parse_sender(self.MAIL_FROM)

    @property
    def smtp_user(self) -> str:
        return self.SMTP_USER or self.sender.address


T = TypeVar("T", bound=AccessSettings)


def load_settings(model: type[T] = Settings) -> T:  # type: ignore[assignment]
    """Parse the environment, turning pydantic's report into one message naming each variable."""
    try:
        return model()
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False, include_input=False):
            where = ".".join(str(part) for part in error["loc"]) or "settings"
            problems.append(f"{where}: {error['msg']}")
        raise SettingsError("invalid settings: " + "; ".join(problems)) from None
