"""bucketbridge: one object-storage API over S3, Azure Blob, GCS, Swift and local files."""

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
    "copy",
    "sync",
]
