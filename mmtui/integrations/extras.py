"""An optional framework, imported for an integration, or one line naming the extra that installs it."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


def require(module: str, extra: str, integration: str) -> ModuleType:
    """The framework's module; ImportError naming `pip install "mmtui[extra]"` where it is missing."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(f"{integration} needs {module.partition('.')[0]}: pip install \"mmtui[{extra}]\"") \
            from error


def scalars(values: dict[str, Any], skip: set[str] = frozenset()) -> dict[str, Any]:
    """The numbers among a framework's logged values (floats, ints, one-element tensors), by name, but those
    named in `skip`."""
    return {name: value for name, value in values.items()
            if name not in skip and not isinstance(value, bool) and
            (isinstance(value, (int, float)) or (hasattr(value, "numel") and value.numel() == 1))}
