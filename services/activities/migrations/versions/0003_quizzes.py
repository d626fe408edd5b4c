"""Quizzes: the question bank, quizzes and attempts.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from servicekit.types import UtcDateTime

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_table(
        "questions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("prompt", sa.Text, nullable=False),
        sa.Column("options", sa.JSON, nullable=False),
        sa.Column("answer", sa.JSON, nullable=False),
        sa.Column("explanation", sa.Text, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_questions_tenant", "questions", ["tenant_id", "created_at"])
    op.create_table(
        "quizzes",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("community_id", sa.String(200), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("question_ids", sa.JSON, nullable=False),
        sa.Column("draw_count", sa.Integer, nullable=True),
        sa.Column("time_limit_s", sa.Integer, nullable=True),
        sa.Column("attempts_allowed", sa.Integer, nullable=False),
        sa.Column("pass_percent", sa.Integer, nullable=False),
        sa.Column("opens_at", UtcDateTime, nullable=False),
        sa.Column("closes_at", UtcDateTime, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_quizzes_tenant", "quizzes", ["tenant_id", "created_at"])
    op.create_table(
        "quiz_attempts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("quiz_id", sa.String(36), nullable=False),
        sa.Column("member_id", sa.String(200), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("question_ids", sa.JSON, nullable=False),
        sa.Column("started_at", UtcDateTime, nullable=False),
        sa.Column("deadline_at", UtcDateTime, nullable=False),
        sa.Column("submitted_at", UtcDateTime, nullable=True),
        sa.Column("answers", sa.JSON, nullable=True),
        sa.Column("correct", sa.Integer, nullable=True),
        sa.Column("score", sa.Integer, nullable=True),
        sa.Column("passed", sa.Boolean, nullable=True),
        sa.UniqueConstraint(
            "tenant_id", "quiz_id", "member_id", "number", name="uq_quiz_attempts_number"
        ),
    )


def downgrade() -> None:
    for table in ("quiz_attempts", "quizzes", "questions"):
        op.drop_table(table)
