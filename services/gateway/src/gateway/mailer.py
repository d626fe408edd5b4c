"""The gateway's mailer: consumes ``gateway.notifications`` and sends each message.

One consumer group (``gateway.mailer``, idempotent through the inbox) hands invitations and
password resets to a transport: SMTP (aiosmtplib) when ``smtp_url`` is set, otherwise a
directory that receives one ``.eml`` file per message (development: ``var/mail/``).

Delivery is at least once. A transport error is raised, so the consumer retries the event
(and dead-letters it after its attempts; ``servicekit dlq-replay`` sends it again): no mail
is dropped. A mail sent just before its transaction failed is sent again on the retry;
its ``Message-ID`` is the event id, so it is recognisably the same message, and the
directory transport overwrites the same file. A link that can no longer be used (token
redeemed, superseded by a resend, expired) is not mailed at all.
"""

from __future__ import annotations

import asyncio
import logging
import os
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

import aiosmtplib
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.domain import mail
from gateway.repository import Repository
from gateway.security import sha256_hex
from gateway.settings import Settings
from servicekit.events import Event
from servicekit.types import utcnow

log = logging.getLogger(__name__)

TOKEN_FIELDS = {mail.INVITED: "invitation_token", mail.RESET_REQUESTED: "reset_token"}


class Transport(Protocol):
    def describe(self) -> str: ...

    async def send(self, message: EmailMessage, *, name: str) -> None:
        """Deliver or raise; ``name`` is unique per message (a file name where one is used)."""


class SmtpTransport:
    """``smtps://`` is implicit TLS (port 465 by default); ``smtp://`` upgrades with
    STARTTLS (port 587 by default), required when the URL carries credentials and used
    when the server offers it otherwise."""

    def __init__(self, url: str, *, timeout_s: float = 30.0) -> None:
        parts = urlsplit(url)
        self.implicit_tls = parts.scheme == "smtps"
        self.hostname = parts.hostname or "localhost"
        self.port = parts.port or (465 if self.implicit_tls else 587)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout_s = timeout_s

    def describe(self) -> str:
        return f"SMTP {'(TLS)' if self.implicit_tls else '(STARTTLS)'} {self.hostname}:{self.port}"

    async def send(self, message: EmailMessage, *, name: str) -> None:
        await aiosmtplib.send(
            message,
            hostname=self.hostname,
            port=self.port,
            username=self.username,
            password=self.password,
            use_tls=self.implicit_tls,
            start_tls=None if self.implicit_tls or self.username is None else True,
            timeout=self.timeout_s,
        )


class DirectoryTransport:
    """Writes each message as ``<name>`` (an .eml file, UTF-8) into a directory, atomically:
    a reader never sees half a file."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory).resolve()

    def describe(self) -> str:
        return f"files in {self.directory}"

    async def send(self, message: EmailMessage, *, name: str) -> None:
        await asyncio.to_thread(self._write, message.as_bytes(), name)

    def _write(self, raw: bytes, name: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        final = self.directory / name
        partial = self.directory / f".{name}.partial"
        partial.write_bytes(raw)
        os.replace(partial, final)


def transport_from_settings(settings: Settings) -> Transport:
    if settings.smtp_url is not None:
        return SmtpTransport(
            settings.smtp_url.get_secret_value(), timeout_s=settings.smtp_timeout_s
        )
    return DirectoryTransport(settings.mail_dir)


class Mailer:
    """The event handler of ``gateway.mailer``: composes the mail and sends it."""

    def __init__(self, settings: Settings, transport: Transport) -> None:
        self.settings = settings
        self.transport = transport

    async def __call__(self, session: AsyncSession, event: Event) -> None:
        field = TOKEN_FIELDS.get(event.type)
        if field is None:
            return
        repo = Repository(session)
        token = str(event.data[field])
        if not await repo.one_time_token_usable(sha256_hex(token), utcnow()):
            log.info(
                "not mailing %s %s: its token is used, superseded or expired", event.type, event.id
            )
            return
        tenant = await repo.tenant(event.tenant_id)
        about = (
            mail.Tenant(slug=tenant.slug, name=tenant.name)
            if tenant
            else mail.Tenant(slug=event.tenant_id, name=event.tenant_id)
        )
        composed = mail.compose(
            event.type,
            event.data,
            about,
            links_base=self.settings.links_base,
            api_base=self.settings.public_url,
        )
        if composed is None:
            return
        message = mail.to_message(
            composed,
            sender=self.settings.mail_from,
            message_id=f"<{event.id}@quanzi.gateway>",
            date=event.time,
        )
        name = f"{event.time:%Y%m%dT%H%M%S}-{composed.kind}-{event.id}.eml"
        await self.transport.send(message, name=name)
        log.info(
            "mailed %s to operator %s via %s",
            composed.kind,
            event.data.get("operator_id"),
            self.transport.describe(),
        )
