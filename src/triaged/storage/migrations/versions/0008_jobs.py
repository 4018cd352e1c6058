"""Jobs: bulk classification jobs and their rows.

Revision ID: 0008_jobs
Revises: 0007_review_workspace
Create Date: 2026-12-02
"""

from __future__ import annotations

revision = "0008_jobs"
down_revision = "0007_review_workspace"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Reserved in the revision chain for issue 11 (jobs); its tables land with that work.
    pass


def downgrade() -> None:
    pass
