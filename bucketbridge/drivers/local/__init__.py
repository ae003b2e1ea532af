"""The LOCAL provider: buckets are directories, objects are files (see ``driver``)."""

from .driver import SETTINGS, LocalDriver, create_driver

__all__ = ["SETTINGS", "LocalDriver", "create_driver"]
