"""Operators of a tenant: owners and admins invite them and manage their roles."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.api.deps import IdentityDep, Manager
from gateway.api.schemas import OperatorInvite, OperatorOut, OperatorUpdate
from servicekit.pagination import Cursor, Limit, Page, keyset_after, page_of
from servicekit.problems import problem_responses

router = APIRouter(prefix="/v1/operators", tags=["gateway: operators"])


@router.post(
    "",
    status_code=201,
    response_model=OperatorOut,
    responses=problem_responses({409: "This email already belongs to an operator"}),
)
async def invite(body: OperatorInvite, manager: Manager, identity: IdentityDep) -> OperatorOut:
    """Invite an operator; the invitation with its one-time token goes to the mailer."""
    invitation = await identity.operators.invite(
        manager,
        email=body.email,
        display_name=body.display_name,
        granted=[str(r) for r in body.roles],
    )
    return OperatorOut.model_validate(invitation.operator)


@router.get("", response_model=Page[OperatorOut])
async def list_operators(
    manager: Manager, identity: IdentityDep, cursor: Cursor = None, limit: Limit = 50
) -> Page[OperatorOut]:
    rows = await identity.operators.page(
        manager.tenant_id, after=keyset_after(cursor), limit=limit + 1
    )
    return page_of(rows, limit, OperatorOut)


@router.get("/{operator_id}", response_model=OperatorOut)
async def get_operator(operator_id: str, manager: Manager, identity: IdentityDep) -> OperatorOut:
    return OperatorOut.model_validate(await identity.operators.get(manager.tenant_id, operator_id))


@router.patch(
    "/{operator_id}",
    response_model=OperatorOut,
    responses=problem_responses({409: "Not on yourself: another manager changes you"}),
)
async def update_operator(
    operator_id: str, body: OperatorUpdate, manager: Manager, identity: IdentityDep
) -> OperatorOut:
    """Change roles or disable (which revokes the operator's sign-ins at once)."""
    operator = await identity.operators.update(
        manager,
        operator_id,
        granted=None if body.roles is None else [str(r) for r in body.roles],
        disabled=body.disabled,
    )
    return OperatorOut.model_validate(operator)
