"""``cp``, ``mv`` and ``sync``: bytes between files, stdin/stdout and objects.

Each direction is one library call -- ``upload_from_file`` / ``upload`` /
``download_to_file`` / ``copy_to`` for one object, ``upload_tree`` /
``download_tree`` / ``copy`` / ``sync`` for many -- so whatever the command
does, a script can do the same with the library.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from ..filetree import download_tree, upload_tree
from ..sync import SyncReport
from ..sync import copy as copy_objects
from ..sync import sync as sync_objects
from . import clusters
from .addresses import Address, parse
from .context import Context
from .exits import CommandError, UsageError, at
from .output import Meter, out


def _metadata(pairs: list[str] | None) -> dict[str, str] | None:
    if not pairs:
        return None
    metadata: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--metadata {pair!r}: use KEY=VALUE")
        metadata[key] = value
    return metadata


def _as_prefix(address: Address) -> Address:
    """A -r source or destination names a prefix: ``b/dir`` means ``b/dir/``."""
    if address.key and not address.key.endswith("/"):
        return Address(address.text, address.provider_id, address.bucket, address.key + "/")
    return address


def _into(address: Address, name: str) -> Address:
    """A destination that names a prefix (or only a bucket) gets the source's name."""
    if not address.key or address.key.endswith("/"):
        return Address(address.text, address.provider_id, address.bucket, address.key + name)
    return address


def cp(ctx: Context, args: argparse.Namespace) -> int:
    source, destination = parse(args.src), parse(args.dst)
    _transfer(ctx, args, source, destination, move=False)
    return 0


def mv(ctx: Context, args: argparse.Namespace) -> int:
    source, destination = parse(args.src), parse(args.dst)
    _transfer(ctx, args, source, destination, move=True)
    return 0


def _transfer(
    ctx: Context, args: argparse.Namespace, source: Address, destination: Address, move: bool
) -> None:
    if not source.remote and not destination.remote:
        raise UsageError(f"{source} -> {destination}: neither is an object address (use cp(1))")
    if source.stdio and (args.recursive or move):
        raise UsageError("-: stdin cannot be copied with -r or moved")
    if destination.stdio and (args.recursive or move):
        raise UsageError("-: stdout cannot take -r or mv")
    content_type, metadata = args.content_type, _metadata(args.metadata)
    config = ctx.transfer_config()
    cluster = clusters.requested(args)
    if cluster is not None and not args.recursive:
        raise UsageError(f"{cluster.option}: for cp -r and sync between object prefixes")
    if args.recursive:
        _transfer_many(ctx, args, source, destination, move, content_type, metadata)
        return
    if source.stdio:
        target = _into(destination, "stdin")
        with at(destination.text), ctx.meter("upload") as meter:
            obj = ctx.bucket(target).objects.create(target.key)
            obj.upload(
                sys.stdin.buffer,
                config,
                content_type=content_type,
                metadata=metadata,
                progress=meter,
            )
        return
    if not source.remote:
        if os.path.isdir(source.path):
            raise UsageError(f"{source}: is a directory (use -r)")
        target = _into(destination, os.path.basename(source.path))
        with at(source.text):
            size = os.path.getsize(source.path)
        with at(destination.text), ctx.meter("upload", size) as meter:
            obj = ctx.bucket(target).objects.create(target.key)
            obj.upload_from_file(
                source.path, config, content_type=content_type, metadata=metadata, progress=meter
            )
        if move:
            with at(source.text):
                os.unlink(source.path)
        return
    if not source.key or source.key.endswith("/"):
        raise UsageError(f"{source}: names a prefix, not an object (use -r)")
    with at(source.text):
        obj = ctx.object(source)
    if destination.stdio:
        with at(source.text):
            sink = sys.stdout.buffer
            for chunk in obj.iter_content():
                sink.write(chunk)
            sink.flush()
        return
    name = source.key.rsplit("/", 1)[-1]
    if not destination.remote:
        path = destination.path
        if path.endswith(os.sep) or os.path.isdir(path):
            path = os.path.join(path, name)
        with at(destination.text), ctx.meter("download", obj.size) as meter:
            obj.download_to_file(path, config, progress=meter)
    else:
        target = _into(destination, name)
        with at(destination.text), ctx.meter("copy", obj.size) as meter:
            obj.copy_to(
                ctx.bucket(target),
                target.key,
                content_type=content_type,
                metadata=metadata,
                config=config,
                progress=meter,
            )
    if move:
        with at(source.text):
            obj.delete()


def _transfer_many(
    ctx: Context,
    args: argparse.Namespace,
    source: Address,
    destination: Address,
    move: bool,
    content_type: str | None,
    metadata: dict[str, str] | None,
) -> None:
    moved: list[str] = []
    with ctx.meter("cp -r", counts=True) as meter:

        def done(name: str) -> None:
            meter.object_done(name)
            moved.append(name)

        report = _tree(
            ctx,
            _as_prefix(source),
            _as_prefix(destination),
            meter,
            done,
            content_type=content_type,
            metadata=metadata,
            cluster=clusters.requested(args),
        )
    _summary(ctx, report, source.text)
    if move:
        _remove_sources(ctx, source, moved)


def _tree(
    ctx: Context,
    source: Address,
    destination: Address,
    meter: Meter,
    on_object: Callable[[str], None],
    *,
    only_changed: bool = False,
    delete: bool = False,
    dry_run: bool = False,
    content_type: str | None = None,
    metadata: dict[str, str] | None = None,
    cluster: clusters.Cluster | None = None,
) -> SyncReport:
    """What ``cp -r`` and ``sync`` share: the one library call for each
    direction (a directory up, a prefix down, a prefix to a prefix), on one
    pool of ``--jobs`` workers and the provider's one connection pool, or
    (a prefix to a prefix) on the cluster ``--dask``/``--ray`` names."""
    config, jobs = ctx.transfer_config(), ctx.jobs
    if cluster is not None and not (source.remote and destination.remote):
        raise UsageError(f"{cluster.option}: only between object prefixes, not a local directory")
    if not source.remote:
        if not os.path.isdir(source.path):
            raise CommandError(source.text, NotADirectoryError(20, "not a directory"))
        with at(destination.text):
            return upload_tree(
                source.path,
                ctx.location(destination),
                only_changed=only_changed,
                delete=delete,
                dry_run=dry_run,
                config=config,
                workers=jobs,
                content_type=content_type,
                metadata=metadata,
                progress=meter,
                on_object=on_object,
            )
    if not destination.remote:
        with at(source.text):
            return download_tree(
                ctx.location(source),
                destination.path,
                only_changed=only_changed,
                delete=delete,
                dry_run=dry_run,
                config=config,
                workers=jobs,
                progress=meter,
                on_object=on_object,
            )
    if content_type is not None or metadata is not None:
        raise UsageError("--content-type and --metadata: not with cp -r between objects")
    # cp -r copies every object, sync what differs (and deletes with
    # --delete): otherwise the same call
    run: Callable[..., SyncReport] = (
        partial(sync_objects, delete=delete) if only_changed else copy_objects
    )
    with at(source.text), clusters.executor(cluster, jobs, "bb-copy") as pool:
        return run(
            ctx.location(source),
            ctx.location(destination),
            dry_run=dry_run,
            executor=pool,
            config=config,
            progress=meter,
            on_object=on_object,
        )


def _remove_sources(ctx: Context, source: Address, names: list[str]) -> None:
    prefix = _as_prefix(source)
    if not source.remote:
        for name in names:
            with at(os.path.join(source.path, name)):
                os.unlink(os.path.join(source.path, *name.split("/")))
        return
    with at(source.text):
        bucket = ctx.bucket(prefix, check=False)
        with ThreadPoolExecutor(ctx.jobs, "bb-mv") as pool:
            for _ in pool.map(
                lambda name: bucket.objects.create(prefix.key + name).delete(), names
            ):
                pass


def sync(ctx: Context, args: argparse.Namespace) -> int:
    source, destination = _as_prefix(parse(args.src)), _as_prefix(parse(args.dst))
    if source.stdio or destination.stdio:
        raise UsageError("-: sync needs a directory or a prefix on each side")
    if not source.remote and not destination.remote:
        raise UsageError(f"{source} -> {destination}: neither is an object address")
    with ctx.meter("sync", counts=True) as meter:
        report = _tree(
            ctx,
            source,
            destination,
            meter,
            meter.object_done,
            only_changed=True,
            delete=args.delete,
            dry_run=args.dry_run,
            cluster=clusters.requested(args),
        )
    if report.dry_run:
        for name in report.to_copy:
            out(f"(dry run) copy {name}")
        for name in report.to_delete:
            out(f"(dry run) delete {name}")
    _summary(ctx, report, source.text)
    return 0


def _summary(ctx: Context, report: SyncReport, address: str) -> None:
    if not ctx.quiet and not report.dry_run and sys.stderr.isatty():
        sys.stderr.write(
            f"{report.copied} copied ({report.copied_bytes} bytes), {report.unchanged}"
            f" unchanged, {report.deleted} deleted, {len(report.failures)} failed\n"
        )
    if report.failures:
        first = report.failures[0]
        more = f" (and {len(report.failures) - 1} more failed)" if len(report.failures) > 1 else ""
        where = (
            os.path.join(address, first.name)
            if "://" not in address
            else (address.rstrip("/") + "/" + first.name)
        )
        raise CommandError(f"{where}{more}", RuntimeError(first.error), 1)


__all__ = ["Meter", "cp", "mv", "sync"]
