"""The SDK's typed model versions: a training job, the model it made and, while it trains,
its progress."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ModelInfo", "TrainingProgress"]


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


@dataclass(frozen=True, slots=True)
class TrainingProgress:
    """How far a training is: ``done`` of ``total`` steps of the fit (embedding the examples
    in chunks, the final fit, each held-out fit, the calibration), the last one's ``stage``,
    ``fraction`` done, ``eta_seconds`` at the rate so far (None until a step is done) and
    when the server last wrote it (``updated_at``, at most once a second)."""

    done: int
    total: int
    stage: str
    fraction: float
    eta_seconds: float | None
    updated_at: str

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainingProgress:
        eta = data.get("eta_seconds")
        return cls(
            done=int(data.get("done") or 0),
            total=int(data.get("total") or 0),
            stage=str(data.get("stage") or ""),
            fraction=float(data.get("fraction") or 0.0),
            eta_seconds=None if eta is None else float(eta),
            updated_at=str(data.get("updated_at") or ""),
        )


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A training job and the model it made (``status``: ``training`` | ``ready`` | ``failed``)."""

    id: str
    status: str
    taxonomy_version: int
    model_version: str | None
    mode: str | None
    n_examples: int
    error: str | None
    created_at: str
    finished_at: str | None
    active: bool | None = None
    trigger: str | None = None
    n_review_examples: int | None = None
    evaluation: dict[str, Any] | None = None
    progress: TrainingProgress | None = None  # while ``training``

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelInfo:
        progress = data.get("progress")
        return cls(
            id=data["id"],
            status=str(data["status"]),
            taxonomy_version=int(data["taxonomy_version"]),
            model_version=data.get("model_version"),
            mode=data.get("mode"),
            n_examples=int(data.get("n_examples") or 0),
            error=data.get("error"),
            created_at=str(data.get("created_at") or ""),
            finished_at=data.get("finished_at"),
            active=data.get("active"),
            trigger=data.get("trigger"),
            n_review_examples=_opt_int(data.get("n_review_examples")),
            evaluation=data.get("evaluation"),
            progress=TrainingProgress.from_dict(progress) if progress else None,
        )
