"""Tenant lifecycle."""

from __future__ import annotations

import re
from enum import StrEnum
from zoneinfo import available_timezones

SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,38}[a-z0-9])$")
# The tenant's days (tenant-wide figures, and communities whose zone is not known):
# the same default as onboarding's communities.
DEFAULT_TIMEZONE = "Asia/Shanghai"
_TIMEZONES = frozenset(available_timezones())


class TenantStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


def valid_slug(slug: str) -> bool:
    """3 to 40 lowercase letters, digits and inner hyphens: safe in URLs and logs."""
    return bool(SLUG_PATTERN.match(slug))


def may_change(current: TenantStatus, target: TenantStatus) -> bool:
    return current != target


def valid_timezone(name: str) -> bool:
    """An IANA time zone name known to this machine's tz database (Asia/Shanghai)."""
    return name in _TIMEZONES
