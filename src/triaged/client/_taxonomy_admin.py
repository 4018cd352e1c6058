"""Methods of both clients on a taxonomy's administration: delete, versions (the list and
one version's definition), routing-policy versions, a model by id, rollback, review
settings and the reviewed examples.  :class:`~triaged.client.Client` inherits
:class:`SyncTaxonomyAdmin`, :class:`~triaged.client.AsyncClient` :class:`AsyncTaxonomyAdmin`;
each pair has the same methods."""

from __future__ import annotations

from triaged.client import _ops_taxonomy as tax
from triaged.client._runner import AsyncRunner, SyncRunner
from triaged.client.results import ModelInfo, TaxonomyInfo
from triaged.client.taxonomy_results import (
    ReviewedExample,
    ReviewSettings,
    RoutingVersion,
    TaxonomyDefinition,
    TaxonomyVersion,
)

__all__ = ["AsyncTaxonomyAdmin", "SyncTaxonomyAdmin"]


class SyncTaxonomyAdmin(SyncRunner):
    """The synchronous methods (the client supplies ``_run``)."""

    def delete_taxonomy(self, name: str) -> TaxonomyInfo:
        """``DELETE``: the same as :meth:`archive_taxonomy` (decisions keep what they refer to)."""
        return self._run(tax.delete_taxonomy(name))

    def taxonomy_versions(self, name: str) -> list[TaxonomyVersion]:
        """Every version of the taxonomy, oldest first (all pages)."""
        return self._all(lambda cursor: tax.versions_page(name, cursor))

    def routing_versions(self, name: str) -> list[RoutingVersion]:
        """Every routing-policy version of the taxonomy, newest first (all pages), with who
        made each (``created_by``: a key id; ``None``: the service by itself)."""
        return self._all(lambda cursor: tax.routing_versions_page(name, cursor))

    def taxonomy_version(self, name: str, version: int) -> TaxonomyDefinition:
        """The full definition of one version, examples included."""
        return self._run(tax.version(name, version))

    def model(self, name: str, model_id: str) -> ModelInfo:
        """One model version or training job of the taxonomy."""
        return self._run(tax.model(name, model_id))

    def rollback(self, name: str, model_id: str) -> ModelInfo:
        """Make an earlier ready model version the active one (admin)."""
        return self._run(tax.rollback(name, model_id))

    def review_settings(self, name: str) -> ReviewSettings:
        """Guidelines, overlap rate and reopen window of the taxonomy's review."""
        return self._run(tax.review_settings(name))

    def update_review_settings(
        self,
        name: str,
        *,
        guidelines: str | None = None,
        overlap_rate: float | None = None,
        reopen_window_seconds: int | None = None,
    ) -> ReviewSettings:
        """Change the given review settings (admin); the others keep their value."""
        op = tax.update_review_settings(name, guidelines, overlap_rate, reopen_window_seconds)
        return self._run(op)

    def reviewed_examples(self, name: str) -> list[ReviewedExample]:
        """The resolved review items the taxonomy learns from, in item order (all pages)."""
        return self._all(lambda cursor: tax.reviewed_examples_page(name, cursor))

    def rename_label(
        self, name: str, label: str, new_name: str, *, description: str | None = None
    ) -> TaxonomyInfo:
        """Rename a label (admin; a new version, retrained): its examples, reviews and
        decisions continue under ``new_name``; ``description`` replaces its description."""
        return self._run(tax.rename_label(name, label, new_name, description))

    def merge_labels(self, name: str, label: str, into: str) -> TaxonomyInfo:
        """Merge ``label`` into ``into`` (admin; a new version, retrained): its examples join
        ``into``'s and its reviews and decisions continue as ``into``."""
        return self._run(tax.merge_labels(name, label, into))


class AsyncTaxonomyAdmin(AsyncRunner):
    """The same methods, awaitable (the client supplies ``_run``)."""

    async def delete_taxonomy(self, name: str) -> TaxonomyInfo:
        """``DELETE``: the same as :meth:`archive_taxonomy` (decisions keep what they refer to)."""
        return await self._run(tax.delete_taxonomy(name))

    async def taxonomy_versions(self, name: str) -> list[TaxonomyVersion]:
        """Every version of the taxonomy, oldest first (all pages)."""
        return await self._all(lambda cursor: tax.versions_page(name, cursor))

    async def routing_versions(self, name: str) -> list[RoutingVersion]:
        """Every routing-policy version of the taxonomy, newest first (all pages), with who
        made each (``created_by``: a key id; ``None``: the service by itself)."""
        return await self._all(lambda cursor: tax.routing_versions_page(name, cursor))

    async def taxonomy_version(self, name: str, version: int) -> TaxonomyDefinition:
        """The full definition of one version, examples included."""
        return await self._run(tax.version(name, version))

    async def model(self, name: str, model_id: str) -> ModelInfo:
        """One model version or training job of the taxonomy."""
        return await self._run(tax.model(name, model_id))

    async def rollback(self, name: str, model_id: str) -> ModelInfo:
        """Make an earlier ready model version the active one (admin)."""
        return await self._run(tax.rollback(name, model_id))

    async def review_settings(self, name: str) -> ReviewSettings:
        """Guidelines, overlap rate and reopen window of the taxonomy's review."""
        return await self._run(tax.review_settings(name))

    async def update_review_settings(
        self,
        name: str,
        *,
        guidelines: str | None = None,
        overlap_rate: float | None = None,
        reopen_window_seconds: int | None = None,
    ) -> ReviewSettings:
        """Change the given review settings (admin); the others keep their value."""
        op = tax.update_review_settings(name, guidelines, overlap_rate, reopen_window_seconds)
        return await self._run(op)

    async def reviewed_examples(self, name: str) -> list[ReviewedExample]:
        """The resolved review items the taxonomy learns from, in item order (all pages)."""
        return await self._all(lambda cursor: tax.reviewed_examples_page(name, cursor))

    async def rename_label(
        self, name: str, label: str, new_name: str, *, description: str | None = None
    ) -> TaxonomyInfo:
        """Rename a label (admin; a new version, retrained): its examples, reviews and
        decisions continue under ``new_name``; ``description`` replaces its description."""
        return await self._run(tax.rename_label(name, label, new_name, description))

    async def merge_labels(self, name: str, label: str, into: str) -> TaxonomyInfo:
        """Merge ``label`` into ``into`` (admin; a new version, retrained): its examples join
        ``into``'s and its reviews and decisions continue as ``into``."""
        return await self._run(tax.merge_labels(name, label, into))
