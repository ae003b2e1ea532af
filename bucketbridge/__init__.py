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
from .provider import CloudProvider
from .resources import Bucket, BucketObject, MultipartUpload, UploadPart
from .results import ResultList
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
    "MultipartUpload",
    "NotFoundException",
    "PermissionDeniedException",
    "PreconditionFailedException",
    "ProviderConnectionException",
    "ProviderInternalException",
    "ProviderList",
    "ProviderNotInstalledException",
    "ResultList",
    "TransferConfig",
    "UploadPart",
    "UploadSupersededException",
    "WaitStateException",
]
