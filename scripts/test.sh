#!/usr/bin/env bash
# Sets up everything the test suite needs on a fresh machine (Python 3.11 + pip + apt), then runs it.
set -euo pipefail
cd "$(dirname "$0")/.."

# Headless Chromium for the browser tests (Debian's package; never a downloaded browser build).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "note: chromium could not be installed; browser tests will be skipped"
  else
    echo "note: not root or no apt-get; browser tests will be skipped unless chromium is installed"
  fi
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
.venv/bin/python -m ruff check llmbench tests benchmarks
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
