"""``ls``, ``mb`` and ``rb``: buckets, and what they hold."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from ..errors import BucketNotEmptyException
from ..resources import BucketObject
from .addresses import Address, parse, remote, with_bucket
from .context import Context, pages
from .exits import CommandError, at
from .output import json_object, json_value, out, out_json


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
    line = _object_line(args)
    # one write a page, not one a key: with PYTHONUNBUFFERED (or -u) each
    # write is a system call, and a page is at most LIST_PAGE lines
    if args.recursive:
        for page in pages(bucket, prefix):
            if page:
                out("\n".join([obj.name for obj in page] if line is None else map(line, page)))
        return 0
    shown_dirs: set[str] = set()
    for page in pages(bucket, prefix):
        lines: list[str] = []
        for obj in page:
            # without -r, what lies below the next "/" shows as its directory
            name = obj.name
            head, slash, _ = name[len(prefix) :].partition("/")
            if not slash:
                lines.append(name if line is None else line(obj))
                continue
            directory = prefix + head + "/"
            if directory not in shown_dirs:
                shown_dirs.add(directory)
                if args.json:
                    lines.append(json_object({"prefix": directory}))
                else:
                    lines.append(f"{'PRE':>12}  {directory}" if args.long else directory)
        if lines:
            out("\n".join(lines))
    return 0


def _object_line(args: argparse.Namespace) -> Callable[[BucketObject], str] | None:
    """How ``ls`` prints an object: None for its name alone."""
    if args.json:
        return _json_line
    if args.long:
        return _long_line
    return None


def _json_line(obj: BucketObject) -> str:
    # json.dumps's text for these four fields, without a dumps call a key
    return (
        f'{{"key": {json_value(obj.name)}, "size": {json_value(obj.size)},'
        f' "last_modified": {json_value(obj.last_modified)}, "etag": {json_value(obj.etag)}}}'
    )


def _long_line(obj: BucketObject) -> str:
    return f"{obj.size:>12}  {obj.last_modified}  {obj.etag or '-'}  {obj.name}"


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
