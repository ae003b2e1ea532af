"""``stat``, ``cat``, ``rm`` and ``url``: one object (or, for ``rm -r``, a prefix)."""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ThreadPoolExecutor

from ..errors import BucketBridgeException, NotFoundException
from .addresses import with_bucket
from .context import Context, walk
from .exits import CommandError, at
from .output import out, out_json


def stat(ctx: Context, args: argparse.Namespace) -> int:
    address = with_bucket(args.url, key=True)
    with at(args.url):
        obj = ctx.object(address)
        fields = {
            "url": args.url,
            "size": obj.size,
            "last_modified": obj.last_modified,
            "etag": obj.etag,
            "content_type": obj.content_type,
            "metadata": dict(obj.metadata),
        }
    if args.json:
        out_json(fields)
    else:
        for name, value in fields.items():
            out(f"{name + ':':<15}{value}")
    return 0


def cat(ctx: Context, args: argparse.Namespace) -> int:
    address = with_bucket(args.url, key=True)
    sink = sys.stdout.buffer
    with at(args.url):
        obj = ctx.bucket(address, check=False).objects.create(address.key)
        for chunk in obj.iter_content():
            sink.write(chunk)
        sink.flush()
    return 0


def rm(ctx: Context, args: argparse.Namespace) -> int:
    address = with_bucket(args.url, key=not args.recursive)
    with at(args.url):
        bucket = ctx.bucket(address, check=False)  # the HEAD or listing names a missing one
        if not args.recursive:
            ctx.object(address).delete()  # a missing object is "not found", as with rm(1)
            return 0
        failed: list[tuple[str, BucketBridgeException]] = []
        meter = ctx.meter("rm", counts=True)

        def remove(name: str) -> None:
            try:
                bucket.objects.create(name).delete()
            except NotFoundException:
                pass  # gone meanwhile: what rm wanted
            except BucketBridgeException as error:
                failed.append((name, error))
            else:
                meter.object_done(name)

        with meter, ThreadPoolExecutor(ctx.jobs, "bb-rm") as pool:
            for _ in pool.map(remove, (obj.name for obj in walk(bucket, address.key))):
                pass
    if failed:
        name, error = failed[0]
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        raise CommandError(f"{args.url.split('://')[0]}://{address.bucket}/{name}{more}", error)
    return 0


def url(ctx: Context, args: argparse.Namespace) -> int:
    address = with_bucket(args.url, key=True)
    with at(args.url):
        obj = ctx.bucket(address).objects.create(address.key)
        out(obj.generate_url(expires_in=args.expires, writable=args.writable))
    return 0


__all__ = ["cat", "out_json", "rm", "stat", "url"]
