#!/usr/bin/env bash
# The README's first command: sets up this machine (packages, npm ci, native build) and runs the
# demo in network namespaces. Pass --once to run a few pings and exit.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec node --import tsx scripts/demo.ts "$@"
