"""The OpenStack provider: Swift over python-swiftclient (see ``driver``)."""

from .client import SETTINGS
from .driver import SwiftDriver, create_driver

__all__ = ["SETTINGS", "SwiftDriver", "create_driver"]
