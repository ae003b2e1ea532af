"""``ls``, ``mb`` and ``rb``: buckets, and what they hold."""

from __future__ import annotations

import argparse

from ..errors import BucketNotEmptyException
from .addresses import Address, parse, remote, with_bucket
from .context import Context, pages, walk
from .exits import CommandError, at
from .output import out, out_json


def ls(ctx: Context, args: argparse.Namespace) -> int:
    text = args.url or f"{ctx.default_scheme()}://"
    address = remote(text)
    with at(text):
        if not address.bucket:
            return _ls_buckets(ctx, address, args)
        return _ls_objects(ctx, address, args)


def _ls_buckets(ctx: Context, address: Address, args: argparse.Namespace) -> int:
    scheme = address.text.split("://", 1)[0]
    for bucket in ctx.provider(address).storage.buckets:
        if args.json:
            out_json({"bucket": bucket.name, "url": f"{scheme}://{bucket.name}/"})
        else:
            out(f"{scheme}://{bucket.name}/")
    return 0


def _ls_objects(ctx: Context, address: Address, args: argparse.Namespace) -> int:
    bucket = ctx.bucket(address, check=False)  # the listing names a missing bucket
    prefix = address.key
    if args.recursive and not (args.long or args.json):
        # names only: one write a page, not one a key
        for page in pages(bucket, prefix):
            if page:
                out("\n".join([obj.name for obj in page]))
        return 0
    shown_dirs: set[str] = set()
    for obj in walk(bucket, prefix):
        if not args.recursive:
            # without -r, what lies below the next "/" shows as its directory
            rest = obj.name[len(prefix) :]
            head, slash, _ = rest.partition("/")
            if slash:
                directory = prefix + head + "/"
                if directory not in shown_dirs:
                    shown_dirs.add(directory)
                    if args.json:
                        out_json({"prefix": directory})
                    else:
                        out(f"{'PRE':>12}  {directory}" if args.long else directory)
                continue
        if args.json:
            out_json(
                {
                    "key": obj.name,
                    "size": obj.size,
                    "last_modified": obj.last_modified,
                    "etag": obj.etag,
                }
            )
        elif args.long:
            out(f"{obj.size:>12}  {obj.last_modified}  {obj.etag or '-'}  {obj.name}")
        else:
            out(obj.name)
    return 0


def mb(ctx: Context, args: argparse.Namespace) -> int:
    address = with_bucket(args.url)
    with at(args.url):
        ctx.provider(address).storage.buckets.create(address.bucket)
    return 0


def rb(ctx: Context, args: argparse.Namespace) -> int:
    address = with_bucket(args.url)
    with at(args.url):
        try:
            ctx.bucket(address).delete(delete_contents=args.force)
        except BucketNotEmptyException as error:
            raise CommandError(
                args.url, BucketNotEmptyException("the bucket is not empty (rb --force empties it)")
            ) from error
    return 0


__all__ = ["ls", "mb", "parse", "rb"]
