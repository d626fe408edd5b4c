"""Invitations and password resets reach the operator's mailbox: the gateway's outbox, the
dev broker, its own mailer consumer, and a .eml file per mail in the mail directory."""

from __future__ import annotations

import asyncio
import email
import re
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.domain import mail
from gateway.mailer import Mailer
from servicekit.events import new_event

if TYPE_CHECKING:
    from conftest import Gateway

TOKEN = re.compile(r"[?&]token=([A-Za-z0-9_\-]+)")
PASSWORD = "a long passphrase"


async def next_mail(
    directory: Path, to: str, kind: str, seen: set[str], timeout_s: float = 60.0
) -> EmailMessage:
    """The first mail of ``kind`` to ``to`` not in ``seen`` (and then in it), polling the
    directory until a deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        for path in sorted(directory.glob(f"*-{kind}-*.eml")):
            if path.name in seen:
                continue
            message = email.message_from_bytes(path.read_bytes(), policy=default)
            assert isinstance(message, EmailMessage)
            if message["To"] == to:
                seen.add(path.name)
                return message
        if loop.time() > deadline:
            found = sorted(p.name for p in directory.glob("*"))
            raise AssertionError(f"no {kind} mail to {to} within {timeout_s}s; found {found}")
        await asyncio.sleep(0.05)


def body(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def link_token(message: EmailMessage) -> str:
    found = TOKEN.search(body(message))
    assert found, body(message)
    return found.group(1)


async def test_an_owner_invited_through_the_api_gets_the_mail_and_signs_in(
    mailing_gateway: Gateway,
) -> None:
    gw = mailing_gateway
    assert gw.mail_dir is not None
    seen: set[str] = set()
    created = await gw.new_tenant("mail-acme", owner="Owner@Mail-Acme.example")
    tenant_id = created["tenant"]["id"]
    owner = "owner@mail-acme.example"
    # No SMTP configured: the answer also carries the link for the platform admin.
    url = created["owner_invitation"]["invitation_url"]
    assert url.startswith("http://127.0.0.1:8000/accept-invitation?token=")

    first = await next_mail(gw.mail_dir, owner, "invitation", seen)
    assert "Mail-Acme" in first["Subject"] and "邀请" in first["Subject"]
    text = body(first)
    assert "mail-acme" in text and "所有者" in text and "owner" in text  # tenant slug, role
    assert first.get_content_charset() == "utf-8"
    assert url in text
    first_token = link_token(first)

    # The platform admin resends: a new link, and the first one stops working.
    resent = await gw.client.post(
        f"/v1/platform/tenants/{tenant_id}/owner-invitation", headers=gw.platform()
    )
    assert resent.status_code == 201, resent.text
    assert resent.json()["email"] == owner
    second = await next_mail(gw.mail_dir, owner, "invitation", seen)
    second_token = link_token(second)
    assert second_token != first_token
    assert resent.json()["invitation_url"].endswith(f"token={second_token}")
    refused = await gw.client.post(
        "/v1/auth/invitations/accept", json={"token": first_token, "password": PASSWORD}
    )
    assert refused.status_code == 401, refused.text
    accepted = await gw.client.post(
        "/v1/auth/invitations/accept", json={"token": second_token, "password": PASSWORD}
    )
    assert accepted.status_code == 204, accepted.text
    await gw.login("mail-acme", owner, PASSWORD)

    # Once accepted there is nothing to resend; an unknown tenant is 404.
    again = await gw.client.post(
        f"/v1/platform/tenants/{tenant_id}/owner-invitation", headers=gw.platform()
    )
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["type"].endswith("invitation-accepted")
    unknown = await gw.client.post(
        "/v1/platform/tenants/no-such-tenant/owner-invitation", headers=gw.platform()
    )
    assert unknown.status_code == 404

    # A password reset is mailed too, and its link sets the new password.
    requested = await gw.client.post(
        "/v1/auth/password-reset", json={"tenant": "mail-acme", "email": owner}
    )
    assert requested.status_code == 202
    reset = await next_mail(gw.mail_dir, owner, "password-reset", seen)
    assert "/reset-password?token=" in body(reset)
    confirmed = await gw.client.post(
        "/v1/auth/password-reset/confirm",
        json={"token": link_token(reset), "password": "an even longer passphrase"},
    )
    assert confirmed.status_code == 204, confirmed.text
    await gw.login("mail-acme", owner, "an even longer passphrase")


class BrokenTransport:
    def describe(self) -> str:
        return "nowhere"

    async def send(self, message: EmailMessage, *, name: str) -> None:
        raise ConnectionRefusedError("SMTP server down")


async def test_a_transport_failure_is_raised_for_the_consumer_to_retry(gateway: Gateway) -> None:
    created = await gateway.new_tenant("mail-down", owner="owner@mail-down.example")
    invited = await gateway.events(mail.INVITED)
    data = {k: v for k, v in invited[-1].items() if not k.startswith("_")}
    event = new_event(
        type=mail.INVITED,
        source="/gateway",
        tenant_id=created["tenant"]["id"],
        topic="gateway.notifications",
        data=data,
    )
    mailer = Mailer(gateway.app.state.settings, BrokenTransport())
    sessions = gateway.app.state.sessions
    with pytest.raises(ConnectionRefusedError):
        async with sessions() as session, session.begin():
            assert isinstance(session, AsyncSession)
            await mailer(session, event)
    # A link that can no longer be used is not mailed (and so cannot fail).
    await gateway.activate("owner@mail-down.example")
    async with sessions() as session, session.begin():
        await mailer(session, event)
