"""The gateway's events (contracts/topics/gateway.*.yaml)."""

from __future__ import annotations

from typing import Any

from servicekit.events import Event, new_event

SOURCE = "/gateway"
TENANTS = "gateway.tenants"
NOTIFICATIONS = "gateway.notifications"
CREDENTIALS = "gateway.credentials"
MEMBERS = "gateway.members"
TOPICS = (TENANTS, NOTIFICATIONS, CREDENTIALS, MEMBERS)


def _event(topic: str, what: str, tenant_id: str, key: str, data: dict[str, Any]) -> Event:
    return new_event(
        type=f"quanzi.gateway.{what}.v1",
        source=SOURCE,
        tenant_id=tenant_id,
        topic=topic,
        data={"tenant_id": tenant_id, **data},
        key=key,
    )


def tenant_created(tenant_id: str, slug: str, name: str, plan: str, timezone: str) -> Event:
    data = {"slug": slug, "name": name, "plan": plan, "timezone": timezone}
    return _event(TENANTS, "tenant.created", tenant_id, tenant_id, data)


def tenant_updated(
    tenant_id: str, changes: list[str], name: str, plan: str, timezone: str, at: str
) -> Event:
    """Every setting after the change: a projection needs only the latest event."""
    data = {"changes": changes, "name": name, "plan": plan, "timezone": timezone, "updated_at": at}
    return _event(TENANTS, "tenant.updated", tenant_id, tenant_id, data)


def tenant_status_changed(tenant_id: str, suspended: bool, reason: str) -> Event:
    what = "tenant.suspended" if suspended else "tenant.reactivated"
    return _event(TENANTS, what, tenant_id, tenant_id, {"reason": reason})


def operator_invited(
    tenant_id: str, operator_id: str, email: str, roles: list[str], token: str, expires_at: str
) -> Event:
    data = {
        "operator_id": operator_id,
        "email": email,
        "roles": roles,
        "invitation_token": token,
        "expires_at": expires_at,
    }
    return _event(NOTIFICATIONS, "operator.invited", tenant_id, operator_id, data)


def password_reset_requested(
    tenant_id: str, operator_id: str, email: str, token: str, expires_at: str
) -> Event:
    data = {
        "operator_id": operator_id,
        "email": email,
        "reset_token": token,
        "expires_at": expires_at,
    }
    return _event(NOTIFICATIONS, "password_reset.requested", tenant_id, operator_id, data)


def api_key_created(
    tenant_id: str, key_id: str, prefix: str, name: str, scopes: list[str], by: str
) -> Event:
    data = {"key_id": key_id, "prefix": prefix, "name": name, "scopes": scopes, "created_by": by}
    return _event(CREDENTIALS, "apikey.created", tenant_id, tenant_id, data)


def api_key_revoked(tenant_id: str, key_id: str, prefix: str, by: str) -> Event:
    data = {"key_id": key_id, "prefix": prefix, "revoked_by": by}
    return _event(CREDENTIALS, "apikey.revoked", tenant_id, tenant_id, data)


def member_identified(tenant_id: str, external_id: str, profile: dict[str, Any]) -> Event:
    data = {"external_id": external_id, "profile": profile}
    return _event(MEMBERS, "member.identified", tenant_id, external_id, data)
