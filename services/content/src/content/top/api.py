"""Feed "top" (engagement weighted, with time decay) and views."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Path, Response

from content.access import Member, Sessions
from content.posts.schemas import PostOut
from content.top import service
from content.top.repository import AfterScore
from servicekit.db import read_only, transaction
from servicekit.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor, invalid_cursor
from servicekit.problems import problem_responses
from servicekit.text import Line
from servicekit.types import utcnow

router = APIRouter(prefix="/v1/content", tags=["content: feed top"])

PostId = Annotated[Line, Path(max_length=36)]
NOT_FOUND = problem_responses({404: "No such post you may see, for this tenant"})


def _after(cursor: str | None) -> AfterScore:
    values = decode_cursor(cursor, 2)
    if values is None:
        return None
    score, key = values
    if not isinstance(score, (int, float)) or isinstance(score, bool) or not math.isfinite(score):
        raise invalid_cursor()
    if not isinstance(key, str) or len(key) > 36:
        raise invalid_cursor()
    return float(score), key


@router.get(
    "/feed/top",
    summary="The posts a member may see across their communities, most engaged first "
    "(with time decay: 12 hours older needs 10× the engagement)",
)
async def top(
    sessions: Sessions, principal: Member, cursor: Cursor = None, limit: Limit = 20
) -> Page[PostOut]:
    after = _after(cursor)
    async with read_only(sessions) as session:
        rows, resume = await service.top_page(session, principal, after, limit)
    token = None if resume is None else encode_cursor(list(resume))
    return Page[PostOut](items=[PostOut.of(row) for row in rows], next_cursor=token)


@router.put(
    "/posts/{post_id}/view",
    status_code=204,
    summary="Count the member's view of a post (once per member; again: nothing changes)",
    responses={**NOT_FOUND, 409: {"description": "Not published"}},
)
async def view(post_id: PostId, sessions: Sessions, principal: Member) -> Response:
    async with transaction(sessions) as session:
        await service.view(session, principal, post_id, utcnow())
    return Response(status_code=204)
