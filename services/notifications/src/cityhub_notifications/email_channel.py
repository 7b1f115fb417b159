"""Email over SMTP (aiosmtplib): subject and body in the resident's language."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid

import aiosmtplib
from cityhub_sdk.languages import pick

from cityhub_notifications.channels import (
    DELIVERED,
    FAILED_PERMANENT,
    FAILED_TEMPORARY,
    DeliveryResult,
    OutgoingMessage,
)
from cityhub_notifications.config import NotificationsSettings
from cityhub_notifications.template_data import EMAIL_FOOTER


class EmailChannel:
    name = "email"
    needs_contact = True

    def __init__(self, settings: NotificationsSettings) -> None:
        assert settings.smtp_host is not None
        self.host = settings.smtp_host
        self.port = settings.smtp_port
        self.username = settings.smtp_username
        self.password = settings.smtp_password
        self.starttls = settings.smtp_starttls
        self.sender = settings.smtp_from
        self.timeout_s = settings.smtp_timeout_s

    def compose(self, message: OutgoingMessage) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = message.email or ""
        email["Subject"] = message.title
        email["Message-ID"] = make_msgid(idstring=message.notification_id)
        footer = pick(EMAIL_FOOTER, message.lang)
        email.set_content(f"{message.body}\n\n--\n{footer}\n", charset="utf-8")
        email["Content-Language"] = message.lang  # after set_content, which clears Content-* headers
        return email

    async def send(self, message: OutgoingMessage) -> DeliveryResult:
        if not message.email:
            return DeliveryResult(FAILED_PERMANENT, "no email address")
        try:
            await aiosmtplib.send(
                self.compose(message),
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self.password,
                start_tls=self.starttls,
                timeout=self.timeout_s,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            return DeliveryResult(FAILED_PERMANENT, f"recipient refused: {type(exc).__name__}")
        except aiosmtplib.SMTPResponseException as exc:
            status = FAILED_PERMANENT if 500 <= exc.code < 600 else FAILED_TEMPORARY
            return DeliveryResult(status, f"smtp {exc.code}")
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            return DeliveryResult(FAILED_TEMPORARY, type(exc).__name__)
        return DeliveryResult(DELIVERED)

    async def close(self) -> None:
        return None


def email_channel(settings: NotificationsSettings, _vapid: str | None) -> EmailChannel | None:
    return EmailChannel(settings) if settings.smtp_host else None
