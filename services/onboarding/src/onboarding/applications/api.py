"""Applications: operators set the questionnaire and work the review queue; members apply."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from onboarding.access import Member, Operator
from onboarding.applications.domain import ApplicationStatus, Decision, Questionnaire
from onboarding.applications.schemas import (
    ApplicationCreate,
    ApplicationOut,
    ApplicationResult,
    ApproveIn,
    BulkReviewIn,
    BulkReviewItem,
    BulkReviewOut,
    ProblemOut,
    QuestionnaireIn,
    QuestionnaireOut,
    RejectIn,
)
from onboarding.applications.service import Admissions, Applied, Entry, Review, ReviewResult
from onboarding.audit.service import Actor
from onboarding.roles.api import RolesDep
from servicekit.auth import CurrentPrincipal
from servicekit.pagination import Cursor, Limit, Page, keyset_after, next_cursor
from servicekit.problems import PROBLEM_TYPE_BASE, not_found

router = APIRouter(prefix="/v1/onboarding", tags=["onboarding: applications"])


async def admissions_service(request: Request) -> Admissions:
    return Admissions(request.app.state.sessions)


AdmissionsDep = Annotated[Admissions, Depends(admissions_service)]


@router.put("/communities/{community_id}/application-form", response_model=QuestionnaireOut)
async def set_application_form(
    community_id: str, body: QuestionnaireIn, operator: Operator, admissions: AdmissionsDep
) -> QuestionnaireOut:
    """Joining now takes an application with these answers (rules decide some at once)."""
    questionnaire = body.domain()
    await admissions.set_questionnaire(
        operator.tenant_id, community_id, questionnaire, actor=Actor.of(operator)
    )
    return _questionnaire_out(questionnaire)


@router.get("/communities/{community_id}/application-form", response_model=QuestionnaireOut)
async def get_application_form(
    community_id: str, operator: Operator, admissions: AdmissionsDep
) -> QuestionnaireOut:
    community = await admissions.community(operator.tenant_id, community_id)
    if community.application_form is None:
        raise not_found("application form")
    return _questionnaire_out(Questionnaire.from_json(community.application_form))


@router.delete("/communities/{community_id}/application-form", status_code=204)
async def remove_application_form(
    community_id: str, operator: Operator, admissions: AdmissionsDep
) -> Response:
    """Members join without applying again; applications already waiting stay in the queue."""
    await admissions.set_questionnaire(
        operator.tenant_id, community_id, None, actor=Actor.of(operator)
    )
    return Response(status_code=204)


def _questionnaire_out(questionnaire: Questionnaire) -> QuestionnaireOut:
    return QuestionnaireOut.model_validate(questionnaire.as_json())


@router.post(
    "/communities/{community_id}/applications",
    response_model=ApplicationResult,
    status_code=201,
    responses={200: {"description": "The member's application already waits for review"}},
)
async def apply(
    community_id: str,
    body: ApplicationCreate,
    member: Member,
    admissions: AdmissionsDep,
    response: Response,
) -> ApplicationResult:
    """Apply with answers: pending review, or decided at once when a rule matches."""
    entry = Entry(
        routing_code=body.routing_code,
        invite_code=body.invite_code,
        accepted_rules_version=body.accepted_rules_version,
    )
    applied = await admissions.apply(
        member.tenant_id, member.subject, community_id, body.answers, entry
    )
    response.status_code = 201 if applied.created else 200
    return _result(applied)


@router.get("/applications", response_model=Page[ApplicationOut])
async def list_applications(
    operator: Operator,
    admissions: AdmissionsDep,
    community_id: Annotated[str | None, Query(max_length=36)] = None,
    member_id: Annotated[str | None, Query(max_length=200)] = None,
    status: ApplicationStatus | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[ApplicationOut]:
    """The review queue (``status=pending``), oldest first."""
    rows = await admissions.applications(
        operator.tenant_id,
        community_id=community_id,
        member_id=member_id,
        status=status,
        after=keyset_after(cursor),
        limit=limit + 1,
    )
    items = [ApplicationOut.model_validate(row) for row in rows[:limit]]
    return Page[ApplicationOut](items=items, next_cursor=next_cursor(rows, limit))


@router.get("/applications/{application_id}", response_model=ApplicationOut)
async def get_application(
    application_id: str, operator: Operator, admissions: AdmissionsDep
) -> ApplicationOut:
    found = await admissions.application(operator.tenant_id, application_id)
    return ApplicationOut.model_validate(found)


@router.post("/applications/{application_id}/approve", response_model=ApplicationResult)
async def approve(
    application_id: str,
    body: ApproveIn,
    principal: CurrentPrincipal,
    admissions: AdmissionsDep,
    roles: RolesDep,
) -> ApplicationResult:
    """Approve: active (free), a free trial, or pending_payment (paid). Operators, and members
    whose community role reviews applications (community admins and operators)."""
    actor = await roles.reviewer(principal, application_id)
    review = Review(Decision.APPROVE, actor.id, body.reason, reviewer_kind=actor.kind)
    return _result(await admissions.decide(principal.tenant_id, application_id, review))


@router.post("/applications/{application_id}/reject", response_model=ApplicationResult)
async def reject(
    application_id: str,
    body: RejectIn,
    principal: CurrentPrincipal,
    admissions: AdmissionsDep,
    roles: RolesDep,
) -> ApplicationResult:
    actor = await roles.reviewer(principal, application_id)
    review = Review(Decision.REJECT, actor.id, body.reason, reviewer_kind=actor.kind)
    return _result(await admissions.decide(principal.tenant_id, application_id, review))


@router.post("/applications/review", response_model=BulkReviewOut)
async def review_many(
    body: BulkReviewIn, operator: Operator, admissions: AdmissionsDep
) -> BulkReviewOut:
    """Approve or reject up to 100 applications; each id reports its own outcome."""
    review = Review(Decision(body.decision), operator.subject, body.reason)
    results = await admissions.decide_many(operator.tenant_id, body.application_ids, review)
    return BulkReviewOut(results=[_bulk_item(result) for result in results])


def _bulk_item(result: ReviewResult) -> BulkReviewItem:
    if result.applied is not None:
        return BulkReviewItem(
            application_id=result.application_id,
            status=200,
            result=_result(result.applied),
            problem=None,
        )
    assert result.problem is not None
    problem = ProblemOut(
        type=PROBLEM_TYPE_BASE + result.problem.slug,
        title=result.problem.title,
        status=result.problem.status,
        detail=result.problem.detail,
    )
    return BulkReviewItem(
        application_id=result.application_id,
        status=problem.status,
        result=None,
        problem=problem,
    )


def _result(applied: Applied) -> ApplicationResult:
    return ApplicationResult.of(applied.application, applied.membership)


me = APIRouter(prefix="/v1/onboarding/me", tags=["onboarding: me"])


@me.get("/applications", response_model=Page[ApplicationOut])
async def my_applications(
    member: Member, admissions: AdmissionsDep, cursor: Cursor = None, limit: Limit = 50
) -> Page[ApplicationOut]:
    """The member's applications with their decisions (and a rejection's reason)."""
    rows = await admissions.applications(
        member.tenant_id, member_id=member.subject, after=keyset_after(cursor), limit=limit + 1
    )
    items = [ApplicationOut.model_validate(row) for row in rows[:limit]]
    return Page[ApplicationOut](items=items, next_cursor=next_cursor(rows, limit))
