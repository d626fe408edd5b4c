"""Tenant lifecycle."""

from __future__ import annotations

import re
from enum import StrEnum

SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,38}[a-z0-9])$")


class TenantStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


def valid_slug(slug: str) -> bool:
    """3 to 40 lowercase letters, digits and inner hyphens: safe in URLs and logs."""
    return bool(SLUG_PATTERN.match(slug))


def may_change(current: TenantStatus, target: TenantStatus) -> bool:
    return current != target
