"""Request and response bodies of the gateway's own API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from gateway.domain.apikeys import Scope
from gateway.domain.roles import Role
from gateway.domain.tenants import SLUG_PATTERN
from gateway.security import MIN_PASSWORD_LENGTH
from servicekit.text import LINE_PATTERN, TEXT_PATTERN, Body, Line, TextJson

# Values are taken as sent (no trimming): the pattern and lengths the document states are
# then exactly what the validator checks (a trimmed " x\n" would pass here but not there).
Email = Annotated[
    str,
    StringConstraints(
        max_length=320,
        # C1 controls spelled out: \s differs between JSON Schema (ECMA: no U+0085) and
        # the validator (Unicode: U+0085 is a space); the document must mean the same.
        pattern=r"^[^@\s\x00-\x1f\x7f-\x9f]+@[^@\s\x00-\x1f\x7f-\x9f]+$",
    ),
]


def _line(min_length: int, max_length: int) -> StringConstraints:
    """A one-line value (servicekit.text's rule: no control characters)."""
    return StringConstraints(min_length=min_length, max_length=max_length, pattern=LINE_PATTERN)


Name = Annotated[str, _line(1, 200)]
Secret = Annotated[str, _line(1, 1024)]
Password = Annotated[str, _line(1, 256)]
NewPassword = Annotated[str, _line(MIN_PASSWORD_LENGTH, 256)]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=500, pattern=TEXT_PATTERN)]
Slug = Annotated[str, _line(1, 40)]
ExternalId = Annotated[str, _line(1, 128)]


TimeZone = Annotated[
    str,
    _line(1, 64),
    Field(description="IANA time zone of the tenant's days, e.g. Asia/Shanghai"),
]


class TenantCreate(Body):
    slug: Annotated[str, StringConstraints(pattern=SLUG_PATTERN.pattern)]
    name: Name
    plan: str = "standard"
    owner_email: Email
    owner_name: Name
    timezone: TimeZone = "Asia/Shanghai"


class TenantUpdate(Body):
    """PATCH: the fields given change."""

    name: Name | None = None
    plan: str | None = None
    timezone: TimeZone | None = None


class TenantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    slug: str
    name: str
    plan: str
    status: str
    timezone: str
    created_at: datetime
    status_changed_at: datetime


class Invited(BaseModel):
    operator_id: str
    email: str
    expires_at: datetime


class OwnerInvited(Invited):
    invitation_url: str | None = Field(
        default=None,
        description=(
            "Only when the gateway sends no mail (no SMTP configured: development, or "
            "mail spooled to a directory): the link with the one-time invitation token, for "
            "the platform admin to hand to the owner. Absent when the invitation is mailed."
        ),
    )


class TenantCreated(BaseModel):
    tenant: TenantOut
    owner_invitation: OwnerInvited


class StatusChange(Body):
    reason: Reason


class Login(Body):
    tenant: Slug
    email: Email
    password: Password


class RefreshIn(Body):
    refresh_token: Secret


class TokensOut(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int
    refresh_token: str
    refresh_expires_at: datetime


class ResetRequest(Body):
    tenant: Slug
    email: Email


class ResetRequested(BaseModel):
    detail: str = Field(description="Whether or not the email belongs to an operator")


class SetPassword(Body):
    token: Secret
    password: NewPassword


class OperatorInvite(Body):
    email: Email
    display_name: Name
    roles: list[Role] = Field(min_length=1, max_length=5)


class OperatorUpdate(Body):
    roles: list[Role] | None = Field(default=None, min_length=1, max_length=5)
    disabled: bool | None = None


class OperatorOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    email: str
    display_name: str
    roles: list[str]
    status: str
    locked_until: datetime | None
    created_at: datetime


class ApiKeyCreate(Body):
    name: Name
    scopes: list[Scope] = Field(min_length=1, max_length=10)


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    prefix: str
    scopes: list[str]
    created_by: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The key itself: shown once, store it now")


class MemberTokenRequest(Body):
    external_id: ExternalId
    profile: dict[Line, TextJson] = Field(default_factory=dict, max_length=50)


class MemberTokenOut(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int
    expires_at: datetime
