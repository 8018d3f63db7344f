"""The videos table.

Revision ID: 0001
Revises:
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
        "videos",
        sa.Column("video_id", sa.String(16), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("source_uri", sa.Text()),
        sa.Column("filename", sa.Text()),
        sa.Column("upload_uri", sa.Text()),
        sa.Column("title", sa.Text()),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("flow_run_id", sa.String(36)),
        sa.Column("manifest_uri", sa.Text()),
        sa.Column("manifest", sa.JSON()),
        sa.Column("error", sa.Text()),
        sa.Column("duration_s", sa.Float()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_videos_status", "videos", ["status"])
    op.create_index("ix_videos_updated_at", "videos", ["updated_at"])


def downgrade() -> None:
    op.drop_table("videos")
