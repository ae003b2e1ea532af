"""bucketbridge: one object-storage API over S3, Azure Blob, GCS, Swift and local files."""

# The names are imported on first use (PEP 562), not with the package: the
# ``bucketbridge`` command starts by importing it, and ``bucketbridge --help``
# should not pay for the engines it does not run.
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .errors import (
        BucketBridgeException,
        BucketNotEmptyException,
        CloudBridgeBaseException,
        DuplicateResourceException,
        InvalidConfigurationException,
        InvalidLabelException,
        InvalidNameException,
        InvalidParamException,
        InvalidValueException,
        NotFoundException,
        PermissionDeniedException,
        PreconditionFailedException,
        ProviderConnectionException,
        ProviderInternalException,
        ProviderNotInstalledException,
        UploadSupersededException,
        WaitStateException,
    )
    from .factory import CloudProviderFactory, ProviderList
    from .locations import Location
    from .provider import CloudProvider
    from .resources import Bucket, BucketObject, MultipartUpload, UploadPart
    from .results import ResultList
    from .sync import SyncReport, copy, sync
    from .transfer import TransferConfig

_LAZY = {
    "BucketBridgeException": ".errors",
    "BucketNotEmptyException": ".errors",
    "CloudBridgeBaseException": ".errors",
    "DuplicateResourceException": ".errors",
    "InvalidConfigurationException": ".errors",
    "InvalidLabelException": ".errors",
    "InvalidNameException": ".errors",
    "InvalidParamException": ".errors",
    "InvalidValueException": ".errors",
    "NotFoundException": ".errors",
    "PermissionDeniedException": ".errors",
    "PreconditionFailedException": ".errors",
    "ProviderConnectionException": ".errors",
    "ProviderInternalException": ".errors",
    "ProviderNotInstalledException": ".errors",
    "UploadSupersededException": ".errors",
    "WaitStateException": ".errors",
    "CloudProviderFactory": ".factory",
    "ProviderList": ".factory",
    "Location": ".locations",
    "CloudProvider": ".provider",
    "Bucket": ".resources",
    "BucketObject": ".resources",
    "MultipartUpload": ".resources",
    "UploadPart": ".resources",
    "ResultList": ".results",
    "SyncReport": ".sync",
    "copy": ".sync",
    "sync": ".sync",
    "TransferConfig": ".transfer",
}


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value: Any = version("bucketbridge")
        except PackageNotFoundError:  # a checkout that was never installed
            value = "0+unknown"
    elif name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    else:
        raise AttributeError(f"module 'bucketbridge' has no attribute {name!r}")
    globals()[name] = value  # once: the next look-up is a plain global
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


class _Package(types.ModuleType):
    """The package keeps its public names over its submodules': importing
    the submodule ``bucketbridge.sync`` (which the import system binds on the
    package, whenever and by whomever it is first imported) must not hide
    the function ``bucketbridge.sync``."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and name in _LAZY:
            return  # __getattr__ gives the public name
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


__all__ = [
    "Bucket",
    "BucketBridgeException",
    "BucketNotEmptyException",
    "BucketObject",
    "CloudBridgeBaseException",
    "CloudProvider",
    "CloudProviderFactory",
    "DuplicateResourceException",
    "InvalidConfigurationException",
    "InvalidLabelException",
    "InvalidNameException",
    "InvalidParamException",
    "InvalidValueException",
    "Location",
    "MultipartUpload",
    "NotFoundException",
    "PermissionDeniedException",
    "PreconditionFailedException",
    "ProviderConnectionException",
    "ProviderInternalException",
    "ProviderList",
    "ProviderNotInstalledException",
    "ResultList",
    "SyncReport",
    "TransferConfig",
    "UploadPart",
    "UploadSupersededException",
    "WaitStateException",
    "__version__",
    "copy",
    "sync",
]
