#!/usr/bin/env bash
# Installs what the scripts and tests need: Azurite (npm ci, pinned by package-lock.json), the
# NuGet packages (dotnet restore) and Debian's chromium for the dashboard's browser tests (Playwright
# drives /usr/bin/chromium; no browser is downloaded). Skips npm ci when node_modules matches the
# lock file, and apt-get when chromium is there.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
stamp=node_modules/.serverless-lock-sha
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -x node_modules/.bin/azurite ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  npm ci --no-audit --no-fund
  echo "$want" > "$stamp"
fi
if [ ! -x /usr/bin/chromium ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y chromium
fi
dotnet restore Serverless.sln --nologo -v q
