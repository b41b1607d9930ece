"""Shortlists and their starred candidates, a note each.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shortlists",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("query", sa.Text(), nullable=True),
        sa.Column("method", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shortlists")),
    )
    op.create_index(op.f("ix_shortlists_updated_at"), "shortlists", ["updated_at"])
    op.create_table(
        "shortlist_stars",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("shortlist_id", sa.Integer(), nullable=False),
        sa.Column("candidate_id", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("starred_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shortlist_id"],
            ["shortlists.id"],
            name=op.f("fk_shortlist_stars_shortlist_id_shortlists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shortlist_stars")),
        sa.UniqueConstraint(
            "shortlist_id", "candidate_id", name=op.f("uq_shortlist_stars_shortlist_id")
        ),
    )
    op.create_index(op.f("ix_shortlist_stars_shortlist_id"), "shortlist_stars", ["shortlist_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_shortlist_stars_shortlist_id"), table_name="shortlist_stars")
    op.drop_table("shortlist_stars")
    op.drop_index(op.f("ix_shortlists_updated_at"), table_name="shortlists")
    op.drop_table("shortlists")
