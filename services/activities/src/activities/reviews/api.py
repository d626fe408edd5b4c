"""Campaign reviews (复盘): one activity's funnel for operators who read campaigns, as JSON
or CSV (``?format=csv`` or ``Accept: text/csv``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query
from pydantic import BaseModel, Field

from activities.access import READERS, Principal, Sessions
from activities.reviews import domain, service
from servicekit.auth import operator_with
from servicekit.db import read_only
from servicekit.export import CSV_RESPONSE, Format, csv_response, wants_csv
from servicekit.problems import problem_responses
from servicekit.text import Line

router = APIRouter(prefix="/v1/activities", tags=["activities: reviews"])

ActivityId = Annotated[Line, Path(max_length=36)]
Reader = Annotated[Principal, operator_with(*READERS)]  # operators reading campaigns
NO_CHANNEL = "activities knows a channel for referral campaigns' invites only"


class StageOut(BaseModel):
    stage: domain.Stage
    count: int = Field(description="Members whose deepest stage is this one or a later one")
    of_previous: float = Field(description="÷ the stage before it (0 when that is 0)")
    of_reached: float = Field(description="÷ reached (0 when nobody was reached)")


class CommunityOut(BaseModel):
    community_id: str
    stages: list[StageOut]


class PointsOut(BaseModel):
    awarded: int | None = Field(
        description="Points to members (drop shares, draw prizes, contest awards, referral "
        "tiers held); null: decided by rewards' rules, not known to activities"
    )
    charged: int | None = Field(description="Points members paid (meetup seats); null: none")


class ChannelOut(BaseModel):
    channel: str | None = Field(description="The invite's channel tag; null: none")
    inviters: int
    joined: int = Field(description="Invited joins in the campaign's period")
    paid: int
    refunded: int = Field(description="Refunded inside the refund window")
    converted: int = Field(description="Announced as counting, not refunded since")
    converted_rate: float = Field(description="converted ÷ joined")


class FiguresOut(BaseModel):
    id: str
    title: str | None
    community_id: str | None = Field(description="null: a tenant-wide contest")
    created_at: datetime
    reached_at: datetime = Field(description="The start: the audience is counted then")
    stages: list[StageOut]
    points: PointsOut


class ChangeOut(BaseModel):
    stage: domain.Stage
    count: int = Field(description="This activity's count − the previous one's")
    of_reached: float = Field(description="The difference of the ÷ reached rates")


class ReviewOut(BaseModel):
    kind: domain.Kind
    activity: FiguresOut
    not_recorded: list[domain.Stage] = Field(
        description="Stages activities does not know for this kind (left out of the funnel)"
    )
    communities: list[CommunityOut] = Field(description="The funnel in each community")
    channels: list[ChannelOut] | None = Field(description=f"null: {NO_CHANNEL}")
    previous: FiguresOut | None = Field(
        description="The activity of the kind set up just before it in its scope"
    )
    changes: list[ChangeOut] | None = Field(description="This funnel − the previous one")
    points_change: PointsOut | None


def stages_out(stages: Sequence[domain.StageCount]) -> list[StageOut]:
    return [
        StageOut(stage=s.stage, count=s.count, of_previous=s.of_previous, of_reached=s.of_reached)
        for s in stages
    ]


def points_out(points: domain.Points) -> PointsOut:
    return PointsOut(awarded=points.awarded, charged=points.charged)


def figures_out(found: service.Figures) -> FiguresOut:
    row = found.row
    return FiguresOut(
        id=row.id,
        title=getattr(row, "title", None) or getattr(row, "question", None),
        community_id=row.community_id,
        created_at=row.created_at,
        reached_at=found.start,
        stages=stages_out(found.stages),
        points=points_out(found.points),
    )


def review_out(found: service.Review) -> ReviewOut:
    current = found.current
    return ReviewOut(
        kind=found.kind,
        activity=figures_out(current),
        not_recorded=[s for s in domain.STAGES if s not in domain.RECORDED[found.kind]],
        communities=[
            CommunityOut(community_id=c, stages=stages_out(s))
            for c, s in current.communities.items()
        ],
        channels=None
        if current.channels is None
        else [
            ChannelOut(
                channel=c.channel,
                inviters=c.inviters,
                joined=c.joined,
                paid=c.paid,
                refunded=c.refunded,
                converted=c.converted,
                converted_rate=c.converted_rate,
            )
            for c in current.channels
        ],
        previous=figures_out(found.previous) if found.previous else None,
        changes=None
        if found.changes is None
        else [
            ChangeOut(stage=c.stage, count=c.count, of_reached=c.of_reached) for c in found.changes
        ],
        points_change=points_out(found.points_change) if found.points_change else None,
    )


COLUMNS = [
    "community_id",
    "stage",
    "count",
    "of_previous",
    "of_reached",
    "previous_count",
    "change",
]


def csv_rows(found: service.Review) -> Iterator[list[Any]]:
    """The total's stages (with the previous activity's counts), then each community's."""
    before = {s.stage: s.count for s in found.previous.stages} if found.previous else {}
    for s in found.current.stages:
        was = before.get(s.stage)
        change = None if was is None else s.count - was
        yield [None, s.stage.value, s.count, s.of_previous, s.of_reached, was, change]
    for community, stages in found.current.communities.items():
        for s in stages:
            yield [community, s.stage.value, s.count, s.of_previous, s.of_reached, None, None]


@router.get(
    "/reviews/{kind}/{activity_id}",
    summary="A campaign's review (复盘): its funnel, by community, beside the previous one",
    response_model=ReviewOut,
    responses={
        **CSV_RESPONSE,
        **problem_responses({404: "No such activity of this kind", 422: "An unknown kind"}),
    },
)
async def get_review(
    kind: domain.Kind,
    activity_id: ActivityId,
    sessions: Sessions,
    principal: Reader,
    format: Annotated[Format | None, Query(description="`csv`: the stages as a CSV file")] = None,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Any:
    async with read_only(sessions) as session:
        found = await service.review(session, principal, kind, activity_id)
    if wants_csv(format, accept):
        name = f"review-{kind.value}-{found.current.row.id}.csv"
        return csv_response(name, COLUMNS, csv_rows(found))
    return review_out(found)
