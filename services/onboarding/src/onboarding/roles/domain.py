"""Community roles and titles, what each may do, mentor rotation and the welcome template.

Pure rules: no I/O. The use cases (roles/service.py) and the permission check (permissions.py) apply
them to rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from string import Formatter


class Permission(StrEnum):
    MANAGE_COMMUNITY = "manage_community"  # settings, groups, codes, rules (群规)
    MANAGE_ROLES = "manage_roles"
    REVIEW_APPLICATIONS = "review_applications"
    MODERATE = "moderate"  # reports, sanctions, appeals
    WELCOME = "welcome"  # greet newcomers (mentors), the welcome template


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    OPERATOR = "operator"
    GUEST_SPEAKER = "guest_speaker"  # 嘉宾, at most the community's limit at a time
    REGIONAL_LEADER = "regional_leader"  # 分舵舵主 of one local group
    MENTOR = "mentor"  # newcomers are assigned to mentors in turn
    TITLE = "title"  # a free-form title (首席…官) carried as the grant's text


_ALL = frozenset(Permission)
P = Permission

# A community operator runs the community day to day but does not hand out roles. Guest
# speakers, titles and regional leaders are recognition, not management: they grant nothing
# beyond greeting newcomers (a leader greets those of their local group in the chat).
PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    Role.OWNER: _ALL,
    Role.ADMIN: _ALL,
    Role.OPERATOR: frozenset({P.MANAGE_COMMUNITY, P.REVIEW_APPLICATIONS, P.MODERATE, P.WELCOME}),
    Role.MENTOR: frozenset({P.WELCOME}),
    Role.REGIONAL_LEADER: frozenset({P.WELCOME}),
    Role.GUEST_SPEAKER: frozenset(),
    Role.TITLE: frozenset(),
}

# Only a tenant owner or admin, or the community's own owner, grants or revokes these.
ELEVATED = frozenset({Role.OWNER, Role.ADMIN})

DEFAULT_GUEST_SPEAKER_LIMIT = 10
MAX_TITLE_LENGTH = 40


def permits(roles: Iterable[Role], permission: Permission) -> bool:
    return any(permission in PERMISSIONS[role] for role in roles)


def needs_elevation(role: Role) -> bool:
    return role in ELEVATED


class InvalidGrant(ValueError):
    pass


def check_grant(role: Role, *, group_id: str | None, title: str | None) -> None:
    """A regional leader leads one group; a title has its text; other roles carry neither."""
    if (role is Role.REGIONAL_LEADER) != (group_id is not None):
        raise InvalidGrant("group_id is given for regional_leader, and only for it")
    if (role is Role.TITLE) != (title is not None):
        raise InvalidGrant("title is given for the title role, and only for it")
    if title is not None and not 0 < len(title) <= MAX_TITLE_LENGTH:
        raise InvalidGrant(f"a title has 1 to {MAX_TITLE_LENGTH} characters")


# ---------------------------------------------------------------- mentor rotation


@dataclass(frozen=True, order=True)
class MentorKey:
    """Where a mentor stands in the rotation: grant time, then grant id (ties)."""

    granted_at: datetime
    grant_id: str


@dataclass(frozen=True)
class Mentor:
    key: MentorKey
    member_id: str


def next_mentor(mentors: Sequence[Mentor], last: MentorKey | None) -> Mentor | None:
    """The first mentor after the last one assigned, wrapping around; None without mentors.

    The rotation remembers a position, not an index: a mentor granted or revoked meanwhile
    never makes the turn skip or repeat someone, so mentors who stay get turns within one of
    each other.
    """
    if not mentors:
        return None
    ordered = sorted(mentors, key=lambda m: m.key)
    if last is not None:
        for mentor in ordered:
            if mentor.key > last:
                return mentor
    return ordered[0]


# ---------------------------------------------------------------- welcome template

PLACEHOLDERS = frozenset({"member_name", "community_name", "mentor_name", "group_name"})
DEFAULT_TEMPLATE = "欢迎 {member_name} 加入{community_name}！"
MAX_TEMPLATE_LENGTH = 2000
NEWCOMER = "新朋友"  # the name used when the directory has none yet


class TemplateError(ValueError):
    pass


def _parts(template: str) -> list[tuple[str, str | None]]:
    """(literal text, placeholder name or None) pairs; unknown or fancy fields refused."""
    try:
        parsed = list(Formatter().parse(template))
    except ValueError as error:  # an unmatched { or }
        raise TemplateError(f"malformed template: {error}") from error
    parts = []
    for literal, name, spec, conversion in parsed:
        # Attribute and index access ({member_name.x}, {0}) and format specs would let a
        # template reach into the values: only bare placeholders are allowed.
        if name is not None and (name not in PLACEHOLDERS or spec or conversion):
            known = ", ".join("{" + p + "}" for p in sorted(PLACEHOLDERS))
            raise TemplateError(f"unknown placeholder {{{name}}}: use {known}")
        parts.append((literal, name))
    return parts


def check_template(template: str) -> None:
    if not template.strip():
        raise TemplateError("the template is empty")
    if len(template) > MAX_TEMPLATE_LENGTH:
        raise TemplateError(f"at most {MAX_TEMPLATE_LENGTH} characters")
    _parts(template)


def render(template: str, values: Mapping[str, str | None]) -> str:
    """The template with its placeholders filled; a missing value renders as nothing."""
    return "".join(
        literal + ((values.get(name) or "") if name is not None else "")
        for literal, name in _parts(template)
    )
