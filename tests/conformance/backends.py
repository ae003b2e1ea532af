"""The backends the conformance suite runs on. Adding a provider is adding its
name here and a ``<name>_provider_factory`` fixture in ``tests/servers``."""

BACKENDS = [
    "local",
    "memory",
    "s3_seaweedfs",
    "s3_moto",
    "azure_azurite",
    "gcp_fake_gcs",
    "openstack_swift",
]

BUCKET_BACKENDS = [
    *BACKENDS,
    # SeaweedFS with weed's default settings, which delete a bucket that
    # still holds objects. It differs from s3_seaweedfs only in bucket rules,
    # so it runs test_buckets.py alone: the whole suite again would add ~40 s
    # for nothing new.
    "s3_seaweedfs_defaults",
]
"""The backends test_buckets.py runs on."""

SDK_PATH_BACKENDS = [
    # Azurite with data_plane="sdk": the SDK calls the lean data plane
    # replaced (HEAD, GET, Put Blob, Put Block, List Blobs) stay proven for
    # users who choose them. Only the modules that exercise objects and
    # transfers run on it (test_objects; test_transfers, whose multipart
    # uploads are Put Blocks): ~25 s, where the whole suite would be minutes.
    "azure_azurite_sdk",
]
"""Backends that run a provider with its SDK-only data plane."""
