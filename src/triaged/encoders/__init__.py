"""Text encoders.  ``get_encoder()`` returns the process-wide bundled default."""

from __future__ import annotations

import threading
from collections.abc import Callable

from triaged.encoders.base import Encoder, ExactBatchEncoder, Vectors, embed_as_single
from triaged.errors import InvalidInput

__all__ = [
    "Encoder",
    "ExactBatchEncoder",
    "Vectors",
    "embed_as_single",
    "get_encoder",
    "register_encoder",
    "wrap_encoder",
]

_FACTORIES: dict[str, Callable[[], Encoder]] = {}
_CACHE: dict[str, Encoder] = {}
_LOCK = threading.Lock()
DEFAULT_ENCODER = "minilm-l6-v2-int8"


def _default() -> Encoder:
    from triaged.encoders.onnx import OnnxEncoder

    return OnnxEncoder()


_FACTORIES[DEFAULT_ENCODER] = _default


def register_encoder(name: str, factory: Callable[[], Encoder]) -> None:
    """Make another encoder available by name (for plug-ins and custom models)."""
    _FACTORIES[name] = factory


def wrap_encoder(name: str, wrapper: Callable[[Encoder], Encoder]) -> None:
    """Make ``get_encoder(name)`` return ``wrapper(encoder)`` from now on, loading the
    encoder if needed (process-wide; used by the service's micro-batching)."""
    with _LOCK:
        if name not in _CACHE:
            if name not in _FACTORIES:
                raise InvalidInput(f"unknown encoder {name!r}", details={"encoder": name})
            _CACHE[name] = _FACTORIES[name]()
        _CACHE[name] = wrapper(_CACHE[name])


def get_encoder(name: str = DEFAULT_ENCODER) -> Encoder:
    """The shared encoder instance for ``name`` (loaded once per process)."""
    with _LOCK:
        if name not in _CACHE:
            if name not in _FACTORIES:
                raise InvalidInput(
                    f"unknown encoder {name!r}; known: {sorted(_FACTORIES)}",
                    details={"encoder": name},
                )
            _CACHE[name] = _FACTORIES[name]()
        return _CACHE[name]
