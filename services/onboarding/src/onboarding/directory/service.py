"""The member directory (成员名录): members keyed by the tenant's external id.

Fed one member at a time by gateway's ``member.identified`` (handlers.py here), by a tenant's
CRM through integrations' ``contacts.received`` events (handlers.py), and in batches by
operators (the API's batch endpoint, the admin CLI's import). Every path runs the same
``upsert_members``: a handful of statements per batch, whatever its size, and nothing written
or published for a row that changes nothing, so re-sending an import is harmless.

Upsert semantics: ``display_name`` and ``tags`` replace when given and are kept when absent;
``profile`` merges key by key, a ``null`` value removing the key.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum, StrEnum
from typing import Annotated, Any, cast

from pydantic import (
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)
from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    bindparam,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from onboarding import events
from onboarding.orm import Member, MemberTag
from servicekit.db import insert_ignore_returning, read_only, transaction
from servicekit.events import Event
from servicekit.outbox import add_events, unsent_at_least
from servicekit.problems import Problem
from servicekit.text import LINE_PATTERN, LINE_REFUSED, TEXT_PATTERN, Body, strings_follow, trimmed
from servicekit.types import utcnow

MAX_BATCH = 1000
MAX_PROFILE_KEYS = 50
MAX_PROFILE_BYTES = 8192  # the member's whole profile, as JSON
MAX_TAGS = 50
MAX_TEXT = 1000  # one profile value
MAX_ATTEMPTS = 3  # a batch racing another over new members is retried (see _Raced)

members_table = cast(Table, Member.__table__)
tags_table = cast(Table, MemberTag.__table__)


class Keep(Enum):
    """A field the upsert leaves as it is (absent from the row, unlike an explicit null)."""

    KEEP = "keep"


KEEP = Keep.KEEP


@dataclass(frozen=True)
class MemberUpsert:
    external_id: str
    display_name: str | Keep | None = KEEP
    profile: Mapping[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] | None = None  # None: keep the member's tags


class Outcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    FAILED = "failed"


@dataclass(frozen=True)
class RowResult:
    external_id: str | None
    outcome: Outcome
    problem: Problem | None = None

    @property
    def status(self) -> int:
        if self.problem is not None:
            return self.problem.status
        return 201 if self.outcome is Outcome.CREATED else 200


# ---------------------------------------------------------------- validation of one row

ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=LINE_PATTERN)]
DisplayName = Annotated[str, trimmed(1, 200)]
ProfileKey = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=LINE_PATTERN)]
ProfileValue = Annotated[str, StringConstraints(max_length=MAX_TEXT)] | int | float | bool | None
Tag = Annotated[str, trimmed(1, 50, refused=LINE_REFUSED + "|")]


class MemberFields(Body):
    """What an operator may set on a member (the PUT body; a batch row adds external_id).
    Control characters are refused by servicekit's one rule (``Body``)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=strings_follow(TEXT_PATTERN))

    display_name: DisplayName | None = None
    profile: Annotated[
        dict[ProfileKey, ProfileValue], Field(default_factory=dict, max_length=MAX_PROFILE_KEYS)
    ]
    tags: Annotated[list[Tag], Field(max_length=MAX_TAGS)] | None = None

    @field_validator("profile")
    @classmethod
    def _bounded(cls, value: dict[str, Any]) -> dict[str, Any]:
        if _json_size(value) > MAX_PROFILE_BYTES:
            raise ValueError(f"at most {MAX_PROFILE_BYTES} bytes of profile (as JSON)")
        return value

    def upsert(self, external_id: str) -> MemberUpsert:
        name = self.display_name if "display_name" in self.model_fields_set else KEEP
        tags = tuple(dict.fromkeys(self.tags)) if self.tags is not None else None
        return MemberUpsert(external_id, name, dict(self.profile), tags)


class MemberRow(MemberFields):
    external_id: ExternalId

    def to_upsert(self) -> MemberUpsert:
        return self.upsert(self.external_id)


def parse_row(raw: object, location: Sequence[str | int] = ()) -> MemberUpsert | RowResult:
    """A row of a batch or an import file: the upsert, or a failed result saying why (422)."""
    try:
        return MemberRow.model_validate(raw).to_upsert()
    except ValidationError as error:
        external_id = raw.get("external_id") if isinstance(raw, Mapping) else None
        errors = [
            {
                "location": [str(p) for p in (*location, *item.get("loc", ()))],
                "message": item.get("msg", ""),
            }
            for item in error.errors()
        ]
        problem = invalid_row("One or more fields of the row are invalid.", errors)
        return RowResult(_text_or_none(external_id), Outcome.FAILED, problem)


def invalid_row(detail: str, errors: list[dict[str, Any]] | None = None) -> Problem:
    return Problem(422, "invalid-row", "Invalid row", detail, errors=errors or [])


def _text_or_none(value: object) -> str | None:
    return value[:200] if isinstance(value, str) and "\x00" not in value else None


def _json_size(value: object) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


# ---------------------------------------------------------------- pure merge


@dataclass
class _Entry:
    """A member's state while a batch is applied to it (rows may repeat an external id)."""

    id: str
    display_name: str | None
    profile: dict[str, Any]
    tags: list[str]
    exists: bool  # in the database before this batch
    created: bool = False

    def __post_init__(self) -> None:
        self.loaded = (self.display_name, dict(self.profile), list(self.tags))

    @property
    def changed(self) -> bool:
        """To write and publish: new, or different at the end of the batch (a row undoing an
        earlier row of the same batch leaves nothing to write)."""
        return self.created or (self.display_name, self.profile, self.tags) != self.loaded

    @property
    def tags_changed(self) -> bool:
        return self.tags != self.loaded[2]


def merged_profile(current: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """Key by key; a None value removes the key."""
    profile = dict(current)
    for key, value in changes.items():
        if value is None:
            profile.pop(key, None)
        else:
            profile[key] = value
    return profile


def _name_from(row: MemberUpsert, current: str | None) -> str | None:
    if not isinstance(row.display_name, Keep):
        return row.display_name
    if "display_name" in row.profile:  # gateway's identify puts the name in the profile
        name = row.profile["display_name"]
        return str(name)[:200] if name else None
    return current


def _apply(entry: _Entry, row: MemberUpsert, *, bounded: bool) -> Outcome | Problem:
    profile = merged_profile(entry.profile, row.profile)
    if bounded and (len(profile) > MAX_PROFILE_KEYS or _json_size(profile) > MAX_PROFILE_BYTES):
        return invalid_row(
            f"the merged profile would exceed {MAX_PROFILE_KEYS} keys or {MAX_PROFILE_BYTES} "
            "bytes: remove keys with null values"
        )
    name = _name_from(row, entry.display_name)
    tags = list(row.tags) if row.tags is not None else entry.tags
    if not entry.exists and not entry.created:
        entry.created = True
        outcome = Outcome.CREATED
    elif (name, profile, tags) == (entry.display_name, entry.profile, entry.tags):
        return Outcome.UNCHANGED
    else:
        outcome = Outcome.UPDATED
    entry.display_name, entry.profile, entry.tags = name, profile, tags
    return outcome


# ---------------------------------------------------------------- the batch upsert


class _Raced(Exception):
    """Another transaction created one of this batch's new members first: run it again."""


async def upsert_members(
    session: AsyncSession,
    tenant_id: str,
    rows: Sequence[MemberUpsert],
    *,
    bounded: bool = True,
) -> list[RowResult]:
    """Apply ``rows`` in order inside the caller's transaction: one result per row.

    Statements per batch: one read (locking the existing rows), one insert, one executemany
    update, two for the tag index, one for the events. Raises ``_Raced`` when a concurrent
    batch inserted a member this one meant to create (the caller retries).
    """
    entries = await _load(session, tenant_id, sorted({row.external_id for row in rows}))
    results = []
    for row in rows:
        outcome = _apply(entries[row.external_id], row, bounded=bounded)
        if isinstance(outcome, Problem):
            results.append(RowResult(row.external_id, Outcome.FAILED, outcome))
        else:
            results.append(RowResult(row.external_id, outcome))
    changed = {ext: e for ext, e in entries.items() if e.changed}
    now = utcnow()
    await _insert(session, tenant_id, [(x, e) for x, e in changed.items() if e.created], now)
    await _update(session, [e for e in changed.values() if not e.created], now)
    await _index_tags(session, tenant_id, [e for e in changed.values() if e.tags_changed])
    await add_events(session, [_event(tenant_id, x, e, now) for x, e in changed.items()])
    return results


async def _load(
    session: AsyncSession, tenant_id: str, external_ids: list[str]
) -> dict[str, _Entry]:
    m = members_table.c
    query = (
        select(m.id, m.external_id, m.display_name, m.profile, m.tags)
        .where(m.tenant_id == tenant_id, m.external_id.in_(external_ids))
        .order_by(m.external_id)  # one lock order for every batch: no deadlocks
        .with_for_update()
    )
    found = {
        row.external_id: _Entry(row.id, row.display_name, dict(row.profile), list(row.tags), True)
        for row in await session.execute(query)
    }
    for external_id in external_ids:
        found.setdefault(external_id, _Entry(str(uuid.uuid4()), None, {}, [], exists=False))
    return found


async def _insert(
    session: AsyncSession, tenant_id: str, new: list[tuple[str, _Entry]], now: datetime
) -> None:
    values = [
        {
            "id": entry.id,
            "tenant_id": tenant_id,
            "external_id": external_id,
            "display_name": entry.display_name,
            "profile": entry.profile,
            "tags": entry.tags,
            "created_at": now,
            "updated_at": now,
        }
        for external_id, entry in new
    ]
    inserted = await insert_ignore_returning(session, members_table, values, members_table.c.id)
    if len(inserted) != len(values):
        raise _Raced


async def _update(session: AsyncSession, entries: list[_Entry], now: datetime) -> None:
    if not entries:
        return
    m = members_table.c
    statement = (
        update(members_table)
        .where(m.id == bindparam("b_id"))
        .values(
            display_name=bindparam("b_name"),
            profile=bindparam("b_profile"),
            tags=bindparam("b_tags"),
            updated_at=bindparam("b_at"),
        )
    )
    params = [
        {
            "b_id": e.id,
            "b_name": e.display_name,
            "b_profile": e.profile,
            "b_tags": e.tags,
            "b_at": now,
        }
        for e in entries
    ]
    await session.execute(statement, params)


async def _index_tags(session: AsyncSession, tenant_id: str, entries: list[_Entry]) -> None:
    if not entries:
        return
    ids = [e.id for e in entries]
    await session.execute(delete(tags_table).where(tags_table.c.member_id.in_(ids)))
    rows = [{"member_id": e.id, "tag": t, "tenant_id": tenant_id} for e in entries for t in e.tags]
    if rows:
        await session.execute(tags_table.insert(), rows)


def _event(tenant_id: str, external_id: str, entry: _Entry, now: datetime) -> Event:
    return events.member_upserted(
        tenant_id,
        external_id,
        entry.display_name,
        entry.profile,
        created=entry.created,
        at=now,
        tags=entry.tags,
    )


# ---------------------------------------------------------------- use cases


class Directory:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, bulk_backlog: int = 0
    ) -> None:
        self.sessions = sessions
        self.bulk_backlog = bulk_backlog  # batches wait while this many events are unsent

    async def upsert(self, tenant_id: str, row: MemberUpsert) -> tuple[Member, bool]:
        """One member (PUT): the member and whether it was created; 422 when it cannot be."""
        [result] = await self._upsert_valid(tenant_id, [row])
        if result.problem is not None:
            raise result.problem
        member = await self.member(tenant_id, row.external_id)
        assert member is not None
        return member, result.outcome is Outcome.CREATED

    async def upsert_batch(self, tenant_id: str, raw_rows: Sequence[object]) -> list[RowResult]:
        """Validate each row on its own, apply the valid ones in one transaction.

        One bad row fails alone: its result carries the problem, the others are applied.
        While the outbox holds ``bulk_backlog`` unpublished events, a batch is refused
        (429, ``publishing-backlog``) before anything is written: an import must not queue
        its events ahead of every other tenant's next join.
        """
        if self.bulk_backlog:
            async with read_only(self.sessions) as session:
                if await unsent_at_least(session, self.bulk_backlog):
                    raise publishing_backlog()
        parsed = [parse_row(raw) for raw in raw_rows]
        valid = [p for p in parsed if isinstance(p, MemberUpsert)]
        applied = iter(await self._upsert_valid(tenant_id, valid))
        return [p if isinstance(p, RowResult) else next(applied) for p in parsed]

    async def _upsert_valid(self, tenant_id: str, rows: list[MemberUpsert]) -> list[RowResult]:
        if not rows:
            return []
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                async with transaction(self.sessions) as session:
                    return await upsert_members(session, tenant_id, rows)
            except _Raced:
                if attempt == MAX_ATTEMPTS:
                    raise Problem(
                        409, "busy", "Busy", "the same members are being written; try again"
                    ) from None
        raise AssertionError("unreachable")

    async def member(self, tenant_id: str, external_id: str) -> Member | None:
        async with read_only(self.sessions) as session:
            return await session.scalar(
                select(Member).where(
                    Member.tenant_id == tenant_id, Member.external_id == external_id
                )
            )

    async def members(
        self,
        tenant_id: str,
        *,
        tag: str | None,
        q: str | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Member]:
        """Oldest first; ``q`` matches the start of the external id or any part of the name."""
        query = select(Member).where(Member.tenant_id == tenant_id)
        if tag:
            tagged = select(MemberTag.member_id).where(
                MemberTag.tenant_id == tenant_id, MemberTag.tag == tag
            )
            query = query.where(Member.id.in_(tagged))
        if q:
            query = query.where(_matching(q))
        if after:
            at, last_id = after
            query = query.where(
                or_(Member.created_at > at, and_(Member.created_at == at, Member.id > last_id))
            )
        ordered = query.order_by(Member.created_at, Member.id).limit(limit)
        async with read_only(self.sessions) as session:
            return list((await session.scalars(ordered)).all())


def _matching(q: str) -> ColumnElement[bool]:
    return or_(
        Member.external_id.startswith(q, autoescape=True),
        func.lower(Member.display_name).contains(q.lower(), autoescape=True),
    )


BACKLOG_RETRY_S = 1


def publishing_backlog() -> Problem:
    return Problem(
        429,
        "publishing-backlog",
        "Publishing backlog",
        "the platform is still publishing earlier changes; send this batch again shortly",
        headers={"Retry-After": str(BACKLOG_RETRY_S)},
        retry_after_s=BACKLOG_RETRY_S,
    )
