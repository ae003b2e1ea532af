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

SDK_PLANE_BACKENDS = ["gcp_fake_gcs_sdk"]
"""Backends with ``data_plane="sdk"``: the provider's SDK for every call,
where the backend of the same name without ``_sdk`` takes the lean data
plane (bucketbridge/dataplane/) for its hot calls. They run only the modules
that exercise those calls (``SDK_PLANE_MODULES``), to keep the fallback
proven without running the whole suite twice."""

SDK_PLANE_MODULES = frozenset({"test_objects", "test_transfers", "test_multipart", "test_races"})
