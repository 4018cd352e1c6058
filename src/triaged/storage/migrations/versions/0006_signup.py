"""Self-service sign-up: workspace status and contact, invites, sign-up attempts.

Revision ID: 0006_signup
Revises: 0005_security
Create Date: 2026-12-02
"""

from __future__ import annotations

revision = "0006_signup"
down_revision = "0005_security"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Reserved in the revision chain for issue 14 (sign-up); its tables land with that work.
    pass


def downgrade() -> None:
    pass
