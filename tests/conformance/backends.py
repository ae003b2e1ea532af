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

SDK_PLANE_BACKENDS = ["s3_seaweedfs_sdk"]
"""SeaweedFS with ``data_plane="sdk"``: the S3 driver's hot calls on boto3,
as a user on an exotic endpoint may choose. The lean plane is the default
every other S3 backend runs; this one runs only SDK_PLANE_MODULES, the
modules that exercise the calls the lean plane carries (HEAD, GET, PUT,
UploadPart, ListObjectsV2, DeleteObject), to keep the added time short."""

SDK_PLANE_MODULES = frozenset({"test_objects", "test_transfers", "test_multipart"})

BUCKET_BACKENDS = [
    *BACKENDS,
    # SeaweedFS with weed's default settings, which delete a bucket that
    # still holds objects. It differs from s3_seaweedfs only in bucket rules,
    # so it runs test_buckets.py alone: the whole suite again would add ~40 s
    # for nothing new.
    "s3_seaweedfs_defaults",
]
"""The backends test_buckets.py runs on."""
