"""Request and response bodies of the rewards API."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from rewards.domain.leaderboard import Standing, Window
from rewards.domain.mall import ItemKind, RedemptionStatus
from rewards.domain.rules import MAX_POINTS
from rewards.repository import ItemRow, RedemptionRow
from rewards.service import Board, CatalogEntry, Summary

# PostgreSQL refuses NUL in text: refused here, it is a 422 rather than a 500.
# Ids and names are one line; free text may have line breaks.
ONE_LINE = r"^[^\x00-\x1f\x7f]*$"
NO_NUL = r"^[^\x00]*$"


def _text(min_length: int, max_length: int, pattern: str = NO_NUL) -> StringConstraints:
    return StringConstraints(
        strip_whitespace=True, min_length=min_length, max_length=max_length, pattern=pattern
    )


Reason = Annotated[str, _text(1, 500)]
Note = Annotated[str, _text(0, 500)]
ExternalId = Annotated[str, _text(1, 200, ONE_LINE)]
Name = Annotated[str, _text(1, 200, ONE_LINE)]
Description = Annotated[str, _text(0, 2000)]
Cost = Annotated[int, Field(ge=1, le=MAX_POINTS)]
Stock = Annotated[int, Field(ge=0, le=1_000_000_000)]
PerMemberLimit = Annotated[int, Field(ge=1, le=1_000_000)]
MinLevel = Annotated[int, Field(ge=1, le=1_000)]


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError as error:  # e.g. 9999-12-31T23:00-05:00: a 422, not a 500
        raise ValueError("timestamp out of range") from error


# Naive timestamps are refused (whose midnight?); the database stores UTC.
Timestamp = Annotated[AwareDatetime, AfterValidator(_utc)]


class Level(BaseModel):
    level: int
    name: str
    floor: int
    next_level_at: int | None
    points_to_next: int | None
    percent: int


class SummaryOut(BaseModel):
    member_id: str
    available: int
    pending: int
    lifetime: int
    debt: int
    level: Level

    @classmethod
    def of(cls, summary: Summary) -> SummaryOut:
        progress = summary.level
        return cls(
            member_id=summary.member_id,
            available=summary.available,
            pending=summary.pending,
            lifetime=summary.lifetime,
            debt=summary.debt,
            level=Level(
                level=progress.level,
                name=progress.name,
                floor=progress.floor,
                next_level_at=progress.next_level_at,
                points_to_next=progress.points_to_next,
                percent=progress.percent,
            ),
        )


class EntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: str
    points: int
    available_delta: int
    pending_delta: int
    lifetime_delta: int
    debt_delta: int
    community_id: str | None
    rule_id: str | None
    rule_version: int | None
    reason: str | None
    created_at: datetime


class EntryPage(BaseModel):
    items: list[EntryOut]
    next_cursor: str | None


class AdjustmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    member_id: ExternalId
    points: Annotated[int, Field(ge=-MAX_POINTS, le=MAX_POINTS, description="Non-zero")]
    reason: Reason
    community_id: ExternalId | None = None


# ------------------------------------------------------------------ mall


class ItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    description: Description = ""
    kind: ItemKind
    cost: Cost
    stock: Stock
    per_member_limit: PerMemberLimit | None = Field(None, description="Null: no limit")
    min_level: MinLevel = 1
    community_id: ExternalId | None = Field(None, description="Null: every community")
    active_from: Timestamp | None = None
    active_until: Timestamp | None = Field(None, description="Exclusive")


class ItemPatch(BaseModel):
    """Only the fields sent change; ``stock`` is the number left now."""

    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    description: Description | None = None
    kind: ItemKind | None = None
    cost: Cost | None = None
    stock: Stock | None = None
    per_member_limit: PerMemberLimit | None = None
    min_level: MinLevel | None = None
    community_id: ExternalId | None = None
    active_from: Timestamp | None = None
    active_until: Timestamp | None = None
    archived: bool | None = None

    @model_validator(mode="after")
    def _null_only_clears_optional_fields(self) -> ItemPatch:
        nulled = sorted(
            name for name in self.model_fields_set - _CLEARABLE if getattr(self, name) is None
        )
        if nulled:
            raise ValueError(f"cannot be null: {', '.join(nulled)}")
        return self

    def changes(self) -> dict[str, object]:
        """The fields sent; null clears per_member_limit, community_id and the window."""
        return self.model_dump(include=self.model_fields_set)


_CLEARABLE = frozenset({"per_member_limit", "community_id", "active_from", "active_until"})


class ItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    description: str
    kind: ItemKind
    cost: int
    stock: int
    per_member_limit: int | None
    min_level: int
    community_id: str | None
    active_from: datetime | None
    active_until: datetime | None
    archived: bool
    created_at: datetime
    updated_at: datetime


class ItemPage(BaseModel):
    items: list[ItemOut]
    next_cursor: str | None


class CatalogItemOut(BaseModel):
    id: str
    name: str
    description: str
    kind: ItemKind
    cost: int
    stock: int
    min_level: int
    per_member_limit: int | None
    community_id: str | None
    active_until: datetime | None
    eligible: bool = Field(description="The member's level is high enough")
    redeemed_by_me: int = Field(description="The member's redemptions not cancelled")
    left_for_me: int | None = Field(
        description="Redemptions the limit still allows; null: no limit"
    )
    created_at: datetime

    @classmethod
    def of(cls, entry: CatalogEntry) -> CatalogItemOut:
        item = entry.item
        return cls(
            **{name: getattr(item, name) for name in _CATALOG_FIELDS},
            eligible=entry.eligible,
            redeemed_by_me=entry.redeemed,
            left_for_me=entry.left_for_me,
        )


_CATALOG_FIELDS = tuple(
    name for name in CatalogItemOut.model_fields if name in ItemRow.__dataclass_fields__
)


class CatalogPage(BaseModel):
    items: list[CatalogItemOut]
    next_cursor: str | None


class RedeemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: Note | None = Field(None, description="For the operator, e.g. a delivery address")


class FulfilIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reference: Note | None = Field(None, description="e.g. a tracking number or a coupon code")


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Reason


class RedemptionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    item_id: str
    item_name: str
    item_kind: ItemKind
    member_id: str
    points: int
    status: RedemptionStatus
    community_id: str | None
    note: str | None
    reference: str | None
    cancel_reason: str | None
    closed_by: str | None
    created_at: datetime
    closed_at: datetime | None

    @classmethod
    def of(cls, row: RedemptionRow) -> RedemptionOut:
        return cls(**{name: getattr(row, name) for name in cls.model_fields})


class RedemptionPage(BaseModel):
    items: list[RedemptionOut]
    next_cursor: str | None


# ----------------------------------------------------------- leaderboards


class StandingOut(BaseModel):
    rank: int | None = Field(description="1 is first; null without points in the period")
    member_id: str
    points: int
    reached_at: datetime | None = Field(description="When the member reached these points")

    @classmethod
    def of(cls, standing: Standing) -> StandingOut:
        return cls(
            rank=standing.rank,
            member_id=standing.member_id,
            points=standing.points,
            reached_at=standing.reached_at,
        )


class BoardOut(BaseModel):
    window: Window
    community_id: str | None = Field(description="Null: the tenant-wide board")
    first_day: date | None = Field(description="UTC; null for all time")
    last_day: date | None
    top: list[StandingOut] = Field(description="Points desc, then earliest reached, then id")
    me: StandingOut | None = Field(description="The calling member; null for operators")

    @classmethod
    def of(
        cls, board: Board, window: Window, community_id: str | None, member_id: str | None
    ) -> BoardOut:
        me = None
        if member_id is not None:
            me = (
                StandingOut.of(board.me)
                if board.me
                else StandingOut(rank=None, member_id=member_id, points=0, reached_at=None)
            )
        return cls(
            window=window,
            community_id=community_id,
            first_day=board.period.first,
            last_day=board.period.last,
            top=[StandingOut.of(standing) for standing in board.top],
            me=me,
        )
