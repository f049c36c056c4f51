#!/usr/bin/env bash
# Installs what the scripts and tests need: Azurite (npm ci, pinned by package-lock.json) and the
# NuGet packages (dotnet restore). Skips npm ci when node_modules matches the lock file.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
stamp=node_modules/.serverless-lock-sha
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -x node_modules/.bin/azurite ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  npm ci --no-audit --no-fund
  echo "$want" > "$stamp"
fi
dotnet restore Serverless.sln --nologo -v q
