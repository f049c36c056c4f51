#!/usr/bin/env bash
# Starts Azurite (Blob, Queue, Table) in memory on loopback, in the background.
# Usage: scripts/azurite.sh [blobPort queuePort tablePort]   (defaults 10000 10001 10002)
# Prints the PID. Installs Azurite from package-lock.json first if it is missing.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
[ -x node_modules/.bin/azurite ] || npm ci --no-audit --no-fund >&2
blob=${1:-10000}; queue=${2:-10001}; table=${3:-10002}
mkdir -p .run
node_modules/.bin/azurite --silent --inMemoryPersistence --skipApiVersionCheck --disableProductStyleUrl \
  --blobHost 127.0.0.1 --blobPort "$blob" --queueHost 127.0.0.1 --queuePort "$queue" \
  --tableHost 127.0.0.1 --tablePort "$table" >.run/azurite.log 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$table") 2>/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$blob") 2>/dev/null; then
    echo "$pid"; exit 0
  fi
  kill -0 "$pid" 2>/dev/null || { cat .run/azurite.log >&2; exit 1; }
  sleep 0.1
done
echo "Azurite did not open its ports" >&2; kill "$pid"; exit 1
