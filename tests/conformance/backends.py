"""The backends the conformance suite runs on. Adding a provider is adding its
name here and a ``<name>_provider_factory`` fixture in ``tests/servers``."""

BACKENDS = [
    "local",
    "memory",
    "s3_seaweedfs",
    "s3_moto",
]
