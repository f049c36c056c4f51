#!/usr/bin/env bash
# Runs every test: unit, integration (Azurite, started by the test fixtures on free ports),
# workflows (in-process Durable Task host), end-to-end (local host over HTTP) and the
# infrastructure checks (bicep build/lint, settings parity). Needs nothing running beforehand.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/setup.sh
mkdir -p .run
set +e
# Build the whole solution first: `dotnet test` on a solution builds only the test projects and
# what they reference, and the benchmark command tests run the bench project's own build.
dotnet build Serverless.sln --nologo --no-restore -c Release -v q 2>&1 | tee .run/test.log
status=${PIPESTATUS[0]}
if [ "$status" -eq 0 ]; then
  dotnet test Serverless.sln --nologo --no-build -c Release 2>&1 | tee -a .run/test.log
  status=${PIPESTATUS[0]}
fi
set -e
passed=$(grep -oE 'Passed: +[0-9]+' .run/test.log | awk '{s+=$2} END {print s+0}')
failed=$(grep -oE 'Failed: +[0-9]+' .run/test.log | awk '{s+=$2} END {print s+0}')
echo "Tests: ${passed} passed, ${failed} failed"
if [ "$status" -ne 0 ] || [ "$passed" -eq 0 ]; then exit 1; fi
