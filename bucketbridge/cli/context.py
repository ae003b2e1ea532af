"""What every command needs from the command line: providers made with the
right settings (a profile's, else the environment's and the config file's),
locations, transfer settings, and the progress meter."""

from __future__ import annotations

import argparse
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..config import PROFILE_ENV, Profile, load_profile
from ..errors import NotFoundException
from ..locations import Location, shared_provider
from ..names import validate_bucket_name
from ..provider import CloudProvider
from ..resources import Bucket, BucketObject
from ..results import ResultList
from .addresses import SCHEME_OF, Address, parse
from .exits import UsageError
from .output import Meter

if TYPE_CHECKING:
    # the transfer engine: imported by the commands that move bytes (cp, mv,
    # sync), not by ls/stat/cat, which only list and read
    from ..transfer import TransferConfig

LIST_PAGE = 1000
LIST_AHEAD = 2


@dataclass
class Context:
    profile: Profile | None
    quiet: bool
    jobs: int
    part_size: int | None
    concurrency: int | None

    @classmethod
    def of(cls, args: argparse.Namespace, environ: dict[str, str]) -> Context:
        name = args.profile or environ.get(PROFILE_ENV)
        profile = load_profile(name) if name else None
        if profile is not None:
            _check_profile_applies(profile, args)
        return cls(
            profile=profile,
            quiet=args.quiet,
            jobs=args.jobs,
            part_size=args.part_size,
            concurrency=args.concurrency,
        )

    def config(self, provider_id: str) -> dict[str, Any]:
        """The profile's keys for its own provider; none for the others
        (they read the environment and the config file)."""
        if self.profile is not None and self.profile.provider_id == provider_id:
            return dict(self.profile.values)
        return {}

    def default_provider_id(self) -> str:
        return self.profile.provider_id if self.profile is not None else "local"

    def default_scheme(self) -> str:
        provider_id = self.default_provider_id()
        if provider_id not in SCHEME_OF:
            raise UsageError(f"profile provider {provider_id!r} has no address scheme")
        return SCHEME_OF[provider_id]

    def provider(self, address: Address) -> CloudProvider:
        assert address.provider_id is not None
        return shared_provider(address.provider_id, self.config(address.provider_id))

    def location(self, address: Address) -> Location:
        assert address.provider_id is not None
        return Location(
            address.provider_id, address.bucket, address.key, self.config(address.provider_id)
        )

    def bucket(self, address: Address, *, check: bool = True) -> Bucket:
        """The bucket; ``check=False`` skips asking whether it exists, for
        commands whose first request names a missing bucket anyway (a
        listing, a read: on every provider). That saves a round trip, and on
        S3 the SDK's start-up: HeadBucket is not a lean-plane call."""
        # a name no provider accepts is a typo to point out, not "not found"
        validate_bucket_name(address.bucket)
        if not check:
            return Bucket(self.provider(address), address.bucket)
        bucket = self.provider(address).storage.buckets.get(address.bucket)
        if bucket is None:
            raise NotFoundException(f"bucket {address.bucket!r} does not exist")
        return bucket

    def object(self, address: Address) -> BucketObject:
        """The object as it is now (NotFoundException if missing, naming
        the bucket if that is what is missing)."""
        obj = self.bucket(address, check=False).objects.get(address.key)
        if obj is None:
            raise NotFoundException(
                f"object {address.key!r} does not exist in bucket {address.bucket!r}"
            )
        return obj

    def transfer_config(self) -> TransferConfig | None:
        if self.part_size is None and self.concurrency is None:
            return None
        from ..transfer import TransferConfig

        return TransferConfig(part_size=self.part_size, max_concurrency=self.concurrency)

    def meter(self, label: str, total: int | None = None, *, counts: bool = False) -> Meter:
        return Meter(label, total, counts=counts, quiet=self.quiet)


def _check_profile_applies(profile: Profile, args: argparse.Namespace) -> None:
    """A profile gives the settings of its own provider's addresses only
    (``provider = aws``: the ``s3://`` ones); the others keep theirs. A
    command none of whose addresses it applies to was most likely given
    the wrong profile: a usage error, not a silent default."""
    texts = [getattr(args, name, None) for name in ("url", "src", "dst")]
    addresses = [parse(text) for text in texts if text]
    remote = [address for address in addresses if address.remote]
    if remote and all(address.provider_id != profile.provider_id for address in remote):
        scheme = SCHEME_OF.get(profile.provider_id, profile.provider_id)
        named = ", ".join(address.text for address in remote)
        raise UsageError(
            f"--profile {profile.name} is for {scheme}:// addresses"
            f" (provider {profile.provider_id}); {named} has none"
        )


def walk(bucket: Bucket, prefix: str) -> Iterator[BucketObject]:
    """Every object under ``prefix``, page by page (one request a page)."""
    for page in pages(bucket, prefix):
        yield from page


def pages(bucket: Bucket, prefix: str) -> Iterator[list[BucketObject]]:
    """The listing's pages, each asked for while the one before is being
    used: a listing's pages follow each other (the next starts after the
    last key), so what can overlap is the server's work on one and the
    caller's output of the others. One thread asks for page after page
    itself, each request sent as soon as the page before is parsed: a page
    never waits for this thread to be scheduled (on a loaded machine a
    wake-up costs milliseconds, twice a page if each request were handed
    over from here)."""

    def fetch(marker: str | None) -> ResultList[BucketObject]:
        return bucket.objects.list(limit=LIST_PAGE, marker=marker, prefix=prefix or None)

    page = fetch(None)
    if not page.is_truncated or page.marker is None:
        yield page  # one page (most listings): no thread
        return
    # at most LIST_AHEAD pages wait for the caller (a slow reader: ls | less)
    ahead: queue.Queue[ResultList[BucketObject] | BaseException | None] = queue.Queue(LIST_AHEAD)
    stop = threading.Event()

    def put(item: ResultList[BucketObject] | BaseException | None) -> bool:
        while not stop.is_set():
            try:
                ahead.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def read_on(marker: str) -> None:
        try:
            while True:
                following = fetch(marker)
                if not put(following):
                    return
                if not following.is_truncated or following.marker is None:
                    put(None)
                    return
                marker = following.marker
        except BaseException as error:  # raised where the pages are read
            put(error)

    reader = threading.Thread(target=read_on, args=(page.marker,), name="bb-list", daemon=True)
    reader.start()
    try:
        yield page
        while True:
            item = ahead.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        # the caller stopped (the end, a closed pipe, Ctrl-C): the request in
        # flight finishes, none follows it
        stop.set()
        reader.join()
