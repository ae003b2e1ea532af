"""The GCP provider: Google Cloud Storage over google-cloud-storage (see ``driver``)."""

from .client import SETTINGS
from .driver import GcsDriver, create_driver

__all__ = ["SETTINGS", "GcsDriver", "create_driver"]
