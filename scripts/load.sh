#!/usr/bin/env bash
# The load test: builds and starts the local host on MovieLens (as the main job does), waits for its
# replay, then drives POST /api/rank over HTTP with autocannon (npm, pinned in package.json): a ramp
# of concurrency, a sustained fixed rate, recovery of the feature log, sequential requests after it,
# and the host's memory. Each figure is printed next to a baseline from the same run (GET /api/health
# at the same concurrency or rate) and its target; the table also goes to .run/load-*.{json,md}.
# Exits 0 whether or not targets are met (a benchmark); 2 when it could not run.
# Options: scripts/load.sh --help; tiny: scripts/load.sh --max-ratings 3000 --stages 1,4 --stage-seconds 2 --rate 50 --duration 2
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/setup.sh
dotnet build local-host -c Release --nologo -v q --no-restore
exec node bench/load/load.mjs "$@"
