"""Review workspace: guidelines, reopen, reviewer agreement.

Revision ID: 0007_review_workspace
Revises: 0006_signup
Create Date: 2026-12-02
"""

from __future__ import annotations

revision = "0007_review_workspace"
down_revision = "0006_signup"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Reserved in the revision chain for issue 12 (review workspace);
    # its tables land with that work.
    pass


def downgrade() -> None:
    pass
