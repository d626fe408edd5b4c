"""Event consumers of moderation: content's auto-moderation findings (``item.flagged``)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from onboarding.moderation.sanctions import strike_from_content
from servicekit.events import Event

KINDS = {"keyword": "keyword rule", "link": "link rule", "flood": "flood limit (刷屏)"}
DID = {"block": "refused", "hold": "held"}


def reason_of(data: dict[str, object]) -> str:
    """The sanction's reason, for the member and the moderators: what content's rule did."""
    kind = KINDS.get(str(data["rule_kind"]), str(data["rule_kind"]))
    did = DID.get(str(data["action"]), str(data["action"]))
    return f"auto-moderation: {data['target_kind']} {did} by the {kind} «{data['rule_pattern']}»"


async def on_content_flagged(session: AsyncSession, event: Event) -> None:
    """content.item.flagged → a strike on the community's ladder when the rule asks for one.

    A malformed event raises: the runner retries it, then dead-letters it for a look.
    """
    data = event.data
    if not data["strike"]:
        return
    at = datetime.fromisoformat(str(data["flagged_at"]))
    if at.tzinfo is None:  # the contract says date-time; read a bare one as UTC
        at = at.replace(tzinfo=UTC)
    await strike_from_content(
        session,
        event.tenant_id,
        str(data["community_id"]),
        str(data["member_id"]),
        reason_of(data),
        at,
    )
