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

SDK_PLANE_MODULES: dict[str, frozenset[str]] = {
    # HEAD, GET, PUT, UploadPart, ListObjectsV2 (flat and delimited), DeleteObject on boto3
    "s3_seaweedfs_sdk": frozenset(
        {"test_objects", "test_transfers", "test_multipart", "test_directories"}
    ),
    "gcp_fake_gcs_sdk": frozenset(
        {"test_objects", "test_transfers", "test_multipart", "test_races", "test_directories"}
    ),
    # test_transfers' multipart uploads are Put Blocks; test_multipart would add ~30 s
    "azure_azurite_sdk": frozenset({"test_objects", "test_transfers", "test_directories"}),
    # Swift's requests are slow (~11 ms a HEAD): only the tests marked
    # ``sdk_plane`` in these modules run there (SDK_PLANE_MARKED_ONLY)
    "openstack_swift_sdk": frozenset({"test_objects", "test_transfers"}),
}
"""Backends with ``data_plane="sdk"``: the provider's SDK for every call,
where the backend of the same name without ``_sdk`` takes the lean data
plane (bucketbridge/dataplane/) for its hot calls. Each runs only the
conformance modules that exercise those calls, to keep the fallback proven
without running the whole suite twice."""

SDK_PLANE_BACKENDS = list(SDK_PLANE_MODULES)

SDK_PLANE_MARKED_ONLY = frozenset({"openstack_swift_sdk"})
"""SDK-plane backends that run only the tests marked ``sdk_plane``."""
