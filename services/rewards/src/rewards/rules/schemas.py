"""Request and response bodies of the operators' rules, levels, settings and reports."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from itertools import pairwise
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, model_validator

from rewards.admin import Levels, MyLevel, Report, RuleDetail
from rewards.api.schemas import ExternalId, Name, Timestamp, _text
from rewards.domain.rules import MAX_MULTIPLIER, MAX_POINTS, EarningRule, ExpiryKind, Op
from rewards.repository import ReportRow, RuleHeadRow, RuleVersionRow

ONE_LINE = r"^[^\x00-\x1f\x7f]*$"

RuleId = Annotated[str, _text(1, 64, r"^[a-z0-9][a-z0-9_-]*$")]
EventType = Annotated[str, _text(3, 200, r"^[a-z0-9][a-z0-9_.-]*$")]
DataPath = Annotated[
    str, _text(1, 200, r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
]  # dotted keys into the event's data
Tier = Annotated[str, _text(1, 100, ONE_LINE)]
Factor = Annotated[
    Decimal,
    Field(gt=0, le=MAX_MULTIPLIER, max_digits=8, decimal_places=4),
    PlainSerializer(float, return_type=float, when_used="json"),
]
LevelKey = Annotated[int, Field(ge=1, le=1000)]
Scalar = Annotated[str, _text(0, 200)] | bool | int | float
CapValue = Annotated[int, Field(ge=1, le=MAX_POINTS * 1000)]


class ConditionIn(BaseModel):
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


# ----------------------------------------------------------------- levels


class LevelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    threshold: Annotated[int, Field(ge=0, le=10**12, description="Lifetime points")]
    name: Name


class LevelsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    levels: Annotated[list[LevelIn], Field(min_length=1, max_length=100)]

    @model_validator(mode="after")
    def _thresholds(self) -> LevelsIn:
        thresholds = [level.threshold for level in self.levels]
        if thresholds[0] != 0:
            raise ValueError("the first level starts at 0 points")
        if any(b <= a for a, b in pairwise(thresholds)):
            raise ValueError("thresholds must strictly increase")
        return self


class LevelOut(BaseModel):
    level: int
    threshold: int
    name: str


class LevelsOut(BaseModel):
    levels: list[LevelOut]
    updated_at: datetime | None = Field(description="Null: the defaults, never changed")

    @classmethod
    def of(cls, levels: Levels) -> LevelsOut:
        scheme = levels.scheme
        return cls(
            levels=[
                LevelOut(level=n, threshold=threshold, name=name)
                for n, (threshold, name) in enumerate(
                    zip(scheme.thresholds, scheme.names, strict=True), start=1
                )
            ],
            updated_at=levels.updated_at,
        )


class MyLevelOut(BaseModel):
    member_id: str
    lifetime: int
    level: int
    name: str
    floor: int
    next_level_at: int | None
    next_name: str | None
    points_to_next: int | None
    percent: int

    @classmethod
    def of(cls, mine: MyLevel) -> MyLevelOut:
        progress = mine.progress
        return cls(
            member_id=mine.member_id,
            lifetime=mine.lifetime,
            level=progress.level,
            name=progress.name,
            floor=progress.floor,
            next_level_at=progress.next_level_at,
            next_name=mine.next_name,
            points_to_next=progress.points_to_next,
            percent=progress.percent,
        )


class SettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    expiry_notice_days: Annotated[int, Field(ge=0, le=90)] = Field(
        description="Announce expiring points this many days ahead; 0: never"
    )


class SettingsOut(BaseModel):
    expiry_notice_days: int


# ---------------------------------------------------------------- reports


class Measures(BaseModel):
    earned: int = Field(description="Points credited by earning rules")
    spent: int = Field(description="Points spent on redemptions")
    restored: int = Field(description="Points given back by cancelled redemptions")
    expired: int
    reversed: int = Field(description="Credits undone (their whole points)")
    adjusted: int = Field(description="Operators' adjustments, net")
    members_earning: int = Field(description="Distinct members credited by rules")

    @classmethod
    def of(cls, row: ReportRow) -> Measures:
        return cls(**{name: getattr(row, name) for name in Measures.model_fields})


class GroupOut(Measures):
    key: str | None = Field(description="Rule id, community id or UTC day; null: none")

    @classmethod
    def of_group(cls, row: ReportRow) -> GroupOut:
        key = row.key.isoformat() if isinstance(row.key, date) else row.key
        return cls(key=key, **Measures.of(row).model_dump())


class ReportOut(BaseModel):
    first: date = Field(alias="from", description="First day (UTC)")
    last: date = Field(alias="to", description="Last day, inclusive")
    community_id: str | None
    group_by: str | None
    totals: Measures
    groups: list[GroupOut]

    @classmethod
    def of(cls, report: Report, community_id: str | None, group_by: str | None) -> ReportOut:
        return cls.model_validate(
            {
                "from": report.first,
                "to": report.last,
                "community_id": community_id,
                "group_by": group_by,
                "totals": Measures.of(report.totals),
                "groups": [GroupOut.of_group(row) for row in report.groups],
            }
        )
