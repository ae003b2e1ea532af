"""The names the rule in bucketbridge/names.py refuses and the edge names it
accepts, shared by the unit tests and the conformance suite (which proves every
provider refuses and accepts the same ones)."""

from __future__ import annotations

REFUSED_BUCKET_NAMES = {
    "xn--abc": "S3: punycode prefix",
    "sthree-data": "S3: reserved prefix",
    "sthree-configurator": "S3: reserved prefix",
    "amzn-s3-demo-bucket": "S3: reserved prefix",
    "data-s3alias": "S3: access point alias suffix",
    "data--ol-s3": "S3: Object Lambda alias suffix",
    "data--x-s3": "S3: directory bucket suffix",
    "data--table-s3": "S3: table bucket suffix",
    "data--two": "Azure: consecutive hyphens",
    "googdata": "GCS: goog prefix",
    "my-google-data": "GCS: contains google",
    "my-g00gle-data": "GCS: google look-alike",
    "my-goog1e-data": "GCS: google look-alike",
    "my-gooogle-data": "GCS: google look-alike",
    "9lives": "must start with a letter",
    "a.b.c": "no dots",
    "under_score": "no underscores",
}

ACCEPTED_BUCKET_NAMES = [
    "xn-a",
    "sthree",
    "amzn-s3-demo",
    "data-s3-alias",
    "goggles",
    "go-ogle",
    "a-b-c",
    "a0b",
]
"""Names close to a reserved form that are allowed. Bucket names are global on
a real cloud, so the conformance suite creates edge names of its own instead."""

REFUSED_OBJECT_NAMES = {
    "../escape": "dot segment",
    "a/../b": "dot segment",
    "./a": "dot segment",
    "a/.": "dot segment",
    "..": "dot segment",
    "/abs": "leading slash",
    "a//b": "empty segment",
    "dir/": "trailing slash",
    "name.": "segment ends with a dot",
    "v1./x": "segment ends with a dot",
    "a\\b": "backslash",
    "line\nfeed": "control character",
    "carriage\rreturn": "control character",
    "tab\there": "control character",
    "del\x7f": "control character",
    "c1\x85": "C1 control character",
    "private\ue000": "private use",
    "non\ufffe": "non-character",
    "lone\ud800": "lone surrogate",
    "x" * 256: "segment longer than 255 bytes",
    "é" * 128: "segment longer than 255 bytes in UTF-8",
    "/".join(["a"] * 255): "more than 254 segments",
    "/".join(["a" * 200] * 6): "more than 1024 bytes",
    ".bucketbridge/state": "reserved for the local provider",
    ".well-known/acme-challenge/token": "reserved by GCS",
}

ACCEPTED_OBJECT_NAMES = [
    "a",
    ".hidden",
    "..dots-first",
    "a.b/c.d",
    "x/.y/..z",
    "a b+c=d&e;f,g@h$i'(j)!k",
    "ünïcödé/файл.txt",
    "emoji-\U0001f600",
    "x" * 255,
    "é" * 127 + "a",
    "/".join(["a" * 255, "b" * 255, "c" * 255, "d" * 254, "e"]),  # 1024 bytes
    "/".join(["s"] * 254),
    ".bucketbridge-not-reserved/x",
    ".well-known/acme-challenge",
]
