"""Request and response bodies of the operators' earning rules."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, model_validator

from rewards.fields import ExternalId, Timestamp, text_field
from rewards.rules.domain import MAX_MULTIPLIER, MAX_POINTS, EarningRule, ExpiryKind, Op
from rewards.rules.repository import RuleHeadRow, RuleVersionRow
from rewards.rules.service import RuleDetail

ONE_LINE = r"^[^\x00-\x1f\x7f]*$"

RuleId = Annotated[str, text_field(1, 64, r"^[a-z0-9][a-z0-9_-]*$")]
EventType = Annotated[str, text_field(3, 200, r"^[a-z0-9][a-z0-9_.-]*$")]
DataPath = Annotated[
    str, text_field(1, 200, r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
]  # dotted keys into the event's data
Tier = Annotated[str, text_field(1, 100, ONE_LINE)]
Factor = Annotated[
    Decimal,
    Field(gt=0, le=MAX_MULTIPLIER, max_digits=8, decimal_places=4),
    PlainSerializer(float, return_type=float, when_used="json"),
]
LevelKey = Annotated[int, Field(ge=1, le=1000)]
Scalar = Annotated[str, text_field(0, 200)] | bool | int | float
CapValue = Annotated[int, Field(ge=1, le=MAX_POINTS * 1000)]


class ConditionIn(BaseModel):
    # Two request models are named ConditionIn (the badge rules' too): OpenAPI names
    # their schemas after their modules, so this one keeps the module it was published
    # from (`rewards__api__admin_schemas__ConditionIn` stays the schema's name).
    __module__ = "rewards.api.admin_schemas"
    model_config = ConfigDict(extra="forbid")
    path: DataPath
    op: Op
    value: Scalar | Annotated[list[Scalar], Field(max_length=100)] | None = None

    @model_validator(mode="after")
    def _value_fits_op(self) -> ConditionIn:
        if self.op is Op.IN and not isinstance(self.value, list):
            raise ValueError("op in needs a list value")
        if self.op in (Op.GTE, Op.LTE) and (
            isinstance(self.value, bool) or not isinstance(self.value, int | float)
        ):
            raise ValueError(f"op {self.op.value} needs a number")
        return self


# Its annotations are this module's names, not those of the module it names: built here.
ConditionIn.model_rebuild()


class CapsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    per_day: CapValue | None = None
    per_week: CapValue | None = None
    per_month: CapValue | None = None


class ExpiryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: ExpiryKind = ExpiryKind.NEVER
    days: Annotated[int, Field(ge=1, le=3650)] | None = None

    @model_validator(mode="after")
    def _days_with_after_days(self) -> ExpiryIn:
        if (self.kind is ExpiryKind.AFTER_DAYS) != (self.days is not None):
            raise ValueError("days is needed with after_days, and only then")
        return self


class MultipliersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    by_level: Annotated[dict[LevelKey, Factor], Field(max_length=100)] = Field(
        default_factory=dict,
        description="Level → factor for members at that level or above (≥ 1); "
        "the highest factor reached applies",
    )
    by_tier: Annotated[dict[Tier, Factor], Field(max_length=100)] = Field(
        default_factory=dict, description="The event's `tier` → factor"
    )

    @model_validator(mode="after")
    def _level_factors_are_bonuses(self) -> MultipliersIn:
        if any(factor < 1 for factor in self.by_level.values()):
            raise ValueError("level multipliers are at least 1")
        return self


class RuleIn(BaseModel):
    """A rule's definition: what it pays for which event (see domain/rules.py)."""

    model_config = ConfigDict(extra="forbid")
    event_type: EventType
    points: Annotated[int, Field(ge=1, le=MAX_POINTS)]
    beneficiary: DataPath = Field("member_id", description="Path of the member to credit")
    per_unit: DataPath | None = Field(None, description="Path of a count: points × count")
    conditions: Annotated[list[ConditionIn], Field(max_length=20)] = Field(default_factory=list)
    caps: CapsIn = Field(default_factory=CapsIn)
    pending_days: Annotated[int, Field(ge=0, le=365)] = 0
    pending_until: DataPath | None = Field(None, description="Path of a timestamp")
    expiry: ExpiryIn = Field(default_factory=ExpiryIn)
    community_id: ExternalId | None = Field(None, description="Null: every community")
    cause: DataPath | None = Field(None, description="Path whose reversal undoes the award")
    once_per: DataPath | None = Field(None, description="Path that makes the award once-only")
    active_from: Timestamp | None = None
    active_until: Timestamp | None = Field(None, description="Exclusive")
    multipliers: MultipliersIn = Field(default_factory=MultipliersIn)

    @model_validator(mode="after")
    def _window(self) -> RuleIn:
        if self.active_from and self.active_until and self.active_from >= self.active_until:
            raise ValueError("active_from must be before active_until")
        return self

    def definition(self) -> dict[str, Any]:
        return self.model_dump(exclude={"rule_id"})


class RuleCreate(RuleIn):
    rule_id: RuleId | None = Field(None, description="A slug; generated when omitted")


class RuleDefinitionOut(BaseModel):
    event_type: str
    points: int
    beneficiary: str
    per_unit: str | None
    conditions: list[dict[str, Any]]
    caps: dict[str, int | None]
    pending_days: int
    pending_until: str | None
    expiry: dict[str, Any]
    community_id: str | None
    cause: str | None
    once_per: str | None
    active_from: datetime | None
    active_until: datetime | None
    multipliers: dict[str, dict[str, float]]

    @classmethod
    def of(cls, rule: EarningRule) -> RuleDefinitionOut:
        raw = rule.to_dict()
        raw["multipliers"] = {
            table: {key: float(factor) for key, factor in factors.items()}
            for table, factors in raw["multipliers"].items()
        }
        return cls(**{name: raw[name] for name in cls.model_fields})


class RuleOut(BaseModel):
    rule_id: str
    version: int = Field(description="The version in force; entries record theirs")
    archived: bool
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime
    updated_by: str | None = Field(description="Null: the service's defaults")
    definition: RuleDefinitionOut

    @classmethod
    def of(cls, head: RuleHeadRow) -> RuleOut:
        return cls(
            rule_id=head.rule_id,
            version=head.version,
            archived=head.archived_at is not None,
            archived_at=head.archived_at,
            created_at=head.created_at,
            updated_at=head.updated_at,
            updated_by=head.updated_by,
            definition=RuleDefinitionOut.of(head.rule),
        )


class RuleVersionOut(BaseModel):
    version: int
    active: bool = Field(description="In force now")
    created_at: datetime
    definition: RuleDefinitionOut

    @classmethod
    def of(cls, row: RuleVersionRow) -> RuleVersionOut:
        return cls(
            version=row.rule.version,
            active=row.active,
            created_at=row.created_at,
            definition=RuleDefinitionOut.of(row.rule),
        )


class RuleDetailOut(RuleOut):
    versions: list[RuleVersionOut] = Field(description="Newest first")

    @classmethod
    def of_detail(cls, detail: RuleDetail) -> RuleDetailOut:
        base = RuleOut.of(detail.head).model_dump()
        return cls(**base, versions=[RuleVersionOut.of(v) for v in detail.versions])


class RulePage(BaseModel):
    items: list[RuleOut]
    next_cursor: str | None
