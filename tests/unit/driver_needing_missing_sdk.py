"""A driver module whose SDK is not installed, for the factory's error message."""

import fake_cloud_sdk_that_is_not_installed  # type: ignore[import-not-found]  # noqa: F401
