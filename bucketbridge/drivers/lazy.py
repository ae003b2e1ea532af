"""What lets a driver import its SDK only when a call first needs it.

Importing an SDK costs a small command most of its start-up (azure-storage-blob,
google-cloud-storage, python-swiftclient: 0.1-0.6 s each), and the lean data
plane carries the hot calls without it. Two things kept it eager: the helper
modules that call it, and the exception classes in ``except`` clauses.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import Any


class LazyModule:
    """A module imported on first attribute access (``importlib`` holds the
    import lock, so threads racing to it import it once)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"

    def __getattr__(self, attribute: str) -> Any:
        module: ModuleType = importlib.import_module(self._name)
        return getattr(module, attribute)


class _NeverRaised(Exception):
    """Stands for an exception class of an SDK not imported yet: nothing can
    raise an instance of a class whose module was never loaded, so an
    ``except`` or ``isinstance`` on it rightly matches nothing."""


class SdkErrors:
    """An SDK's exceptions module, read without importing it: ``errors.X`` is
    the real class once the SDK is loaded (by the SDK path that can raise it),
    and :class:`_NeverRaised` until then. ``except errors.X`` and
    ``isinstance(e, errors.X)`` so cost the lean plane no import."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return f"<exceptions of {self._name!r}>"

    def __getattr__(self, attribute: str) -> type[BaseException]:
        # A module another thread is still importing may not define the
        # class yet: then no instance of it exists yet either.
        found: type[BaseException] = getattr(sys.modules.get(self._name), attribute, _NeverRaised)
        return found
