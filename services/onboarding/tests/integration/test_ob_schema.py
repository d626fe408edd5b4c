"""The migrations build exactly the tables the ORM describes (hand-written migrations drift)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from onboarding.orm import Base
from servicekit.tables import kit_metadata

if TYPE_CHECKING:
    from conftest import Onboarding


def _differences(connection: Any) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, [kit_metadata, Base.metadata]))  # as env.py sees it


async def test_migrations_match_the_orm(onboarding: Onboarding) -> None:
    async with onboarding.engine.connect() as connection:
        assert await connection.run_sync(_differences) == []
