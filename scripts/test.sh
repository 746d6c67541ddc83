#!/usr/bin/env bash
# Sets up everything the test suite needs on a fresh machine (Python 3.11 + pip + apt), then runs it.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian's packages: headless Chromium for the browser tests (never a downloaded browser build),
# bubblewrap, the sandbox the code scorer runs model-written code in, and the PostgreSQL server the shared
# run store's tests start (in a temporary directory, as the postgres user).
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v bwrap >/dev/null 2>&1 || need+=(bubblewrap)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null) \
      || echo "note: ${need[*]} could not be installed; the tests that need them will be skipped"
  else
    echo "note: not root or no apt-get; tests needing ${need[*]} will be skipped unless they are installed"
  fi
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
.venv/bin/python -m ruff check llmbench tests benchmarks
.venv/bin/python -m mypy  # --strict, and the files, from pyproject.toml [tool.mypy]
exec .venv/bin/python -m pytest -q -rs -p no:cacheprovider "$@"  # -rs: every skip says why
