"""The type of a result row whose columns the caller reads by name (any number, any type)."""

from __future__ import annotations

from typing import Any, TypeAlias

from sqlalchemy import Row

__all__ = ["AnyRow"]

AnyRow: TypeAlias = Row[*tuple[Any, ...]]
