"""The Azure provider: Blob Storage over azure-storage-blob (see ``driver``)."""

from .client import SETTINGS
from .driver import AzureDriver, create_driver

__all__ = ["SETTINGS", "AzureDriver", "create_driver"]
