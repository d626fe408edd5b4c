"""Request and response bodies of the gateway's own API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Email = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Secret = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
Password = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TenantCreate(Strict):
    slug: Annotated[str, StringConstraints(min_length=3, max_length=40)]
    name: Name
    plan: str = "standard"
    owner_email: Email
    owner_name: Name


class TenantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    slug: str
    name: str
    plan: str
    status: str
    created_at: datetime
    status_changed_at: datetime


class Invited(BaseModel):
    operator_id: str
    email: str
    expires_at: datetime


class TenantCreated(BaseModel):
    tenant: TenantOut
    owner_invitation: Invited


class StatusChange(Strict):
    reason: Reason


class Login(Strict):
    tenant: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    email: Email
    password: Password


class RefreshIn(Strict):
    refresh_token: Secret


class TokensOut(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int
    refresh_token: str
    refresh_expires_at: datetime


class ResetRequest(Strict):
    tenant: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    email: Email


class SetPassword(Strict):
    token: Secret
    password: Password


class OperatorInvite(Strict):
    email: Email
    display_name: Name
    roles: list[str] = Field(min_length=1, max_length=5)


class OperatorUpdate(Strict):
    roles: list[str] | None = Field(default=None, min_length=1, max_length=5)
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


class ApiKeyCreate(Strict):
    name: Name
    scopes: list[str] = Field(min_length=1, max_length=10)


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


class MemberTokenRequest(Strict):
    external_id: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)
    ]
    profile: dict[str, Any] = Field(default_factory=dict, max_length=50)


class MemberTokenOut(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int
    expires_at: datetime
