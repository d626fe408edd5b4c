"""What the gateway mails to operators: invitations and password resets.

Pure: the mailer (``gateway.mailer``) gives each event's data and what it read about the
tenant; this module answers the message (recipient, subject, bilingual text, the link)
and the transport sends it. Chinese first, English below, in one plain-text part.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any
from urllib.parse import quote

INVITED = "quanzi.gateway.operator.invited.v1"
RESET_REQUESTED = "quanzi.gateway.password_reset.requested.v1"
KINDS = (INVITED, RESET_REQUESTED)

ROLE_NAMES = {  # role -> (Chinese, English)
    "owner": ("所有者", "owner"),
    "admin": ("管理员", "admin"),
    "operator": ("运营", "operator"),
    "content_officer": ("内容官", "content officer"),
    "activity_officer": ("活动官", "activity officer"),
}


@dataclass(frozen=True)
class Tenant:
    slug: str
    name: str


@dataclass(frozen=True)
class Mail:
    kind: str  # "invitation" or "password-reset": names the file in the mail directory
    to: str
    subject: str
    text: str
    link: str


def invitation_url(links_base: str, token: str) -> str:
    return f"{links_base.rstrip('/')}/accept-invitation?token={quote(token, safe='')}"


def reset_url(links_base: str, token: str) -> str:
    return f"{links_base.rstrip('/')}/reset-password?token={quote(token, safe='')}"


def compose(
    event_type: str, data: Mapping[str, Any], tenant: Tenant, *, links_base: str, api_base: str
) -> Mail | None:
    """The mail an event asks for, or None for a type that is not mailed."""
    if event_type == INVITED:
        return _invitation(data, tenant, links_base, api_base.rstrip("/"))
    if event_type == RESET_REQUESTED:
        return _reset(data, tenant, links_base, api_base.rstrip("/"))
    return None


def _invitation(data: Mapping[str, Any], tenant: Tenant, links_base: str, api: str) -> Mail:
    token = str(data["invitation_token"])
    link = invitation_url(links_base, token)
    roles = [ROLE_NAMES.get(role, (role, role)) for role in data.get("roles", [])]
    roles_zh = "、".join(zh for zh, _ in roles) or "运营"
    roles_en = ", ".join(en for _, en in roles) or "operator"
    expires = _when(data["expires_at"])
    email = str(data["email"])
    text = f"""\
您好：

您已受邀加入「{tenant.name}」的 Quanzi 运营后台，角色：{roles_zh}。
请在 {expires} 之前打开下面的链接，设置密码：

{link}

设置完成后，用企业标识「{tenant.slug}」和本邮箱 {email} 登录。
如果您没有预期收到这封邮件，请忽略它。

----

Hello,

You are invited to the Quanzi console of "{tenant.name}" as {roles_en}.
Open this link before {expires} to choose your password:

{link}

Then sign in with the tenant "{tenant.slug}" and this address, {email}.
If you did not expect this invitation, ignore this mail.

Without the console / 不使用后台页面时:
POST {api}/v1/auth/invitations/accept
{{"token": "{token}", "password": "<your password>"}}
"""
    subject = f"邀请您加入「{tenant.name}」/ Your invitation to {tenant.name} on Quanzi"
    return Mail("invitation", email, subject, text, link)


def _reset(data: Mapping[str, Any], tenant: Tenant, links_base: str, api: str) -> Mail:
    token = str(data["reset_token"])
    link = reset_url(links_base, token)
    expires = _when(data["expires_at"])
    email = str(data["email"])
    text = f"""\
您好：

我们收到了为「{tenant.name}」（{tenant.slug}）的账号 {email} 重置密码的请求。
请在 {expires} 之前打开下面的链接，设置新密码：

{link}

如果不是您本人操作，请忽略这封邮件，您的密码不会改变。

----

Hello,

Someone asked to reset the password of {email} at "{tenant.name}" ({tenant.slug}).
Open this link before {expires} to choose a new password:

{link}

If it was not you, ignore this mail: your password stays as it is.

Without the console / 不使用后台页面时:
POST {api}/v1/auth/password-reset/confirm
{{"token": "{token}", "password": "<new password>"}}
"""
    subject = f"重置密码 / Reset your Quanzi password ({tenant.name})"
    return Mail("password-reset", email, subject, text, link)


def _when(value: Any) -> str:
    """An expiry for people: UTC, to the minute."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def to_message(mail: Mail, *, sender: str, message_id: str, date: datetime) -> EmailMessage:
    """An RFC 5322 message, UTF-8, ready for SMTP or a .eml file. The body is 8bit, so a
    .eml file reads as plain text; aiosmtplib sends it as base64 to a server without
    8BITMIME."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(mail.text, charset="utf-8", cte="8bit")
    return message
