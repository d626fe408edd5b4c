"""Request and response bodies of the points mall."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rewards.fields import Description, ExternalId, Name, Note, Reason, Timestamp
from rewards.mall.domain import ItemKind, RedemptionStatus
from rewards.mall.repository import ItemRow, RedemptionRow
from rewards.mall.service import CatalogEntry
from rewards.rules.domain import MAX_POINTS
from servicekit.types import null_refused

Cost = Annotated[int, Field(ge=1, le=MAX_POINTS)]
Stock = Annotated[int, Field(ge=0, le=1_000_000_000)]
PerMemberLimit = Annotated[int, Field(ge=1, le=1_000_000)]
MinLevel = Annotated[int, Field(ge=1, le=1_000)]


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


_CLEARABLE = frozenset({"per_member_limit", "community_id", "active_from", "active_until"})


class ItemPatch(BaseModel):
    """Only the fields sent change; ``stock`` is the number left now."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=null_refused(all_but=_CLEARABLE))
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
