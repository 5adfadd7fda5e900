#!/usr/bin/env bash
# Sets up everything dagron_nb needs on a Debian machine, idempotently:
#   Debian packages (graphviz; with --browser also chromium) when missing and we are root,
#   a virtual environment in .venv with the package and its dev extras installed.
# Usage: scripts/setup.sh [--browser]
set -euo pipefail
cd "$(dirname "$0")/.."

want_browser=0
[[ "${1:-}" == "--browser" ]] && want_browser=1

missing=()
command -v dot >/dev/null 2>&1 || missing+=(graphviz)
if (( want_browser )); then
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
fi

apt_install() {
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian packages: $*"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null
  else
    echo "setup: warning: missing $*; install with: sudo apt-get install $*" >&2
  fi
}
if (( ${#missing[@]} )); then apt_install "${missing[@]}"; fi

# The oldest supported Python is 3.10; take the first python3 that is recent enough.
py=""
for cand in python3 python3.13 python3.12 python3.11 python3.10; do
  if command -v "$cand" >/dev/null 2>&1 &&
     "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    py=$cand; break
  fi
done
if [[ -z "$py" ]]; then
  echo "setup: error: dagron_nb needs Python >= 3.10; install it (apt-get install python3)" >&2
  exit 1
fi

if [[ ! -x .venv/bin/python ]]; then
  if ! "$py" -m venv .venv 2>/dev/null; then
    # Debian splits venv out of python3
    apt_install python3-venv
    rm -rf .venv
    "$py" -m venv .venv
  fi
fi

stamp=".venv/.dagron-installed-$(sha1sum pyproject.toml | cut -c1-12)"
if [[ ! -f "$stamp" ]]; then
  echo "setup: installing dagron_nb[dev] into .venv (first time takes a few minutes)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[dev]"
  rm -f .venv/.dagron-installed-*
  touch "$stamp"
fi
echo "setup: ready ($(.venv/bin/python --version), dot: $(command -v dot || echo missing))"
