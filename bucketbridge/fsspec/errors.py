"""bucketbridge's exceptions as the OS errors fsspec's callers expect."""

from __future__ import annotations

import errno
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from ..errors import (
    DuplicateResourceException,
    NotFoundException,
    PermissionDeniedException,
)

F = TypeVar("F", bound=Callable[..., Any])


class FileExpired(OSError):
    """The object changed after the file was opened: reading on would mix
    two versions. Open it again to read the new one."""

    def __init__(self, path: str, etag: str | None) -> None:
        super().__init__(errno.ESTALE, f"{path} changed since it was opened (etag {etag})")
        self.path = path
        self.etag = etag


def as_os_errors(func: F) -> F:
    """bucketbridge's exceptions as the OS errors fsspec's callers expect."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except NotFoundException as error:
            raise FileNotFoundError(str(error)) from error
        except PermissionDeniedException as error:
            raise PermissionError(str(error)) from error
        except DuplicateResourceException as error:
            raise FileExistsError(str(error)) from error

    return cast(F, wrapper)
