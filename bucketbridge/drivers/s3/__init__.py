"""The AWS provider: S3 and every S3-compatible server, over boto3 (see ``driver``)."""

from .client import SETTINGS
from .driver import S3Driver, create_driver

__all__ = ["SETTINGS", "S3Driver", "create_driver"]
