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

SDK_PLANE_BACKENDS = [
    *BACKENDS,
    # Swift with data_plane="sdk": the hot calls (HEAD, GET, PUT, parts,
    # listing pages) on swiftclient, as a user on an exotic endpoint would
    # choose. Only the tests marked sdk_plane run on it (conftest.py
    # deselects the rest): the whole suite again would add minutes.
    "openstack_swift_sdk",
]
"""The backends test_objects.py and test_transfers.py run on."""

SDK_PLANE_ONLY = frozenset({"openstack_swift_sdk"})
