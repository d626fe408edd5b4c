"""Mail composition (pure), the transports' settings, the directory transport."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.domain import mail
from gateway.mailer import DirectoryTransport, SmtpTransport, transport_from_settings
from gateway.settings import Settings

TENANT = mail.Tenant(slug="acme", name="Acme 健身")
LINKS = "https://console.example"
API = "https://api.example/"
INVITED = {
    "tenant_id": "t-1",
    "operator_id": "op-1",
    "email": "owner@acme.example",
    "roles": ["owner"],
    "invitation_token": "tok_EN-123",
    "expires_at": "2030-01-02T03:04:05.678+00:00",
}
RESET = {
    "tenant_id": "t-1",
    "operator_id": "op-1",
    "email": "owner@acme.example",
    "reset_token": "reset-456",
    "expires_at": "2030-01-02T03:34:05+00:00",
}


def test_an_invitation_is_bilingual_and_carries_the_link_tenant_and_role() -> None:
    composed = mail.compose(mail.INVITED, INVITED, TENANT, links_base=LINKS, api_base=API)
    assert composed is not None
    assert composed.kind == "invitation"
    assert composed.to == "owner@acme.example"
    assert composed.link == "https://console.example/accept-invitation?token=tok_EN-123"
    assert "Acme 健身" in composed.subject and "邀请" in composed.subject
    assert "invitation" in composed.subject
    text = composed.text
    assert text.count(composed.link) == 2  # in the Chinese part and in the English one
    assert "所有者" in text and "as owner" in text
    assert "「acme」" in text and '"acme"' in text  # the slug they sign in with
    assert "2030-01-02 03:04 UTC" in text
    assert "POST https://api.example/v1/auth/invitations/accept" in text


def test_roles_are_named_in_both_languages() -> None:
    data = {**INVITED, "roles": ["content_officer", "activity_officer"]}
    composed = mail.compose(mail.INVITED, data, TENANT, links_base=LINKS, api_base=API)
    assert composed is not None
    assert "内容官、活动官" in composed.text
    assert "content officer, activity officer" in composed.text


def test_a_password_reset_links_to_the_reset_page() -> None:
    composed = mail.compose(mail.RESET_REQUESTED, RESET, TENANT, links_base=LINKS, api_base=API)
    assert composed is not None
    assert composed.kind == "password-reset"
    assert composed.link == "https://console.example/reset-password?token=reset-456"
    assert "重置密码" in composed.subject and "Reset" in composed.subject
    assert composed.link in composed.text
    assert "/v1/auth/password-reset/confirm" in composed.text
    assert "2030-01-02 03:34 UTC" in composed.text


def test_other_event_types_are_not_mailed() -> None:
    assert (
        mail.compose("quanzi.gateway.tenant.created.v1", {}, TENANT, links_base=LINKS, api_base=API)
        is None
    )


def test_tokens_are_quoted_in_links() -> None:
    assert mail.invitation_url("https://c.example/", "a+b/c") == (
        "https://c.example/accept-invitation?token=a%2Bb%2Fc"
    )


def test_the_message_is_utf8_and_survives_a_round_trip() -> None:
    composed = mail.compose(mail.INVITED, INVITED, TENANT, links_base=LINKS, api_base=API)
    assert composed is not None
    moment = datetime(2030, 1, 1, 12, tzinfo=UTC)
    message = mail.to_message(
        composed, sender="Quanzi <no-reply@q.example>", message_id="<e-1@q>", date=moment
    )
    parsed = email.message_from_bytes(message.as_bytes(), policy=default)
    assert isinstance(parsed, EmailMessage)
    assert parsed["To"] == "owner@acme.example"
    assert parsed["Subject"] == composed.subject
    assert parsed["Message-ID"] == "<e-1@q>"
    assert parsed.get_content_charset() == "utf-8"
    part = parsed.get_body(("plain",))
    assert part is not None and "所有者" in part.get_content()


async def test_the_directory_transport_writes_one_eml_per_message(tmp_path: Path) -> None:
    composed = mail.compose(mail.INVITED, INVITED, TENANT, links_base=LINKS, api_base=API)
    assert composed is not None
    message = mail.to_message(
        composed, sender="q@q.example", message_id="<e@q>", date=datetime.now(UTC)
    )
    transport = DirectoryTransport(tmp_path / "mail")
    await transport.send(message, name="m-1.eml")
    await transport.send(message, name="m-1.eml")  # a redelivery overwrites, never doubles
    assert [p.name for p in (tmp_path / "mail").iterdir()] == ["m-1.eml"]
    assert "tok_EN-123" in (tmp_path / "mail" / "m-1.eml").read_bytes().decode()


def test_smtp_urls() -> None:
    starttls = SmtpTransport("smtp://user%40x:p%3Ass@mail.example")
    assert (starttls.hostname, starttls.port, starttls.implicit_tls) == ("mail.example", 587, False)
    assert (starttls.username, starttls.password) == ("user@x", "p:ss")
    implicit = SmtpTransport("smtps://mail.example")
    assert (implicit.port, implicit.implicit_tls, implicit.username) == (465, True, None)
    chosen = transport_from_settings(Settings(smtp_url="smtp://u:p@mail.example:2525"))
    assert isinstance(chosen, SmtpTransport) and chosen.port == 2525
    assert isinstance(transport_from_settings(Settings()), DirectoryTransport)


def test_mail_settings() -> None:
    with pytest.raises(ValidationError):
        Settings(smtp_url="http://mail.example")
    production = {
        "environment": "production",
        "secret_key": "s",
        "signing_key_pem": "k",
        "platform_admin_key": "p",
    }
    with pytest.raises(ValidationError, match="mail transport"):
        Settings(**production)
    assert Settings(**production, smtp_url="smtps://u:p@mail.example").mail_configured
    spooled = Settings(**production, mail_dir="/var/spool/quanzi")
    assert not spooled.mail_configured
    assert Settings(console_url="https://console.example/").links_base == (
        "https://console.example"
    )
    assert Settings().links_base == "http://127.0.0.1:8000"
