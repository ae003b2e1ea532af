"""One filesystem class, and one protocol, per provider (see the package docstring)."""

from __future__ import annotations

from .filesystem import BucketBridgeFileSystem


class BBLocalFileSystem(BucketBridgeFileSystem):
    protocol = "bb+local"
    provider_id = "local"


class BBMemoryFileSystem(BucketBridgeFileSystem):
    protocol = "bb+memory"
    provider_id = "memory"


class BBS3FileSystem(BucketBridgeFileSystem):
    protocol = "bb+s3"
    provider_id = "aws"


class BBAzureFileSystem(BucketBridgeFileSystem):
    protocol = "bb+az"
    provider_id = "azure"


class BBGCSFileSystem(BucketBridgeFileSystem):
    protocol = "bb+gs"
    provider_id = "gcp"


class BBSwiftFileSystem(BucketBridgeFileSystem):
    protocol = "bb+swift"
    provider_id = "openstack"
