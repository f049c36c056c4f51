#!/usr/bin/env bash
# The main job: the whole system on this machine. Starts Azurite (in memory), then the local host
# (all functions on http://127.0.0.1:7071/api, in-memory Durable Task, in-process Event Hubs) and
# replays MovieLens (data/movielens) through the facts hub into the Online Archive. The host keeps
# serving until Ctrl-C. Extra arguments go to the local host, e.g. --speed 1000 or --max-ratings 20000.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/setup.sh
ports=${AZURITE_PORTS:-"10000 10001 10002"}
read -r blob queue table <<<"$ports"
azurite_pid=$(scripts/azurite.sh "$blob" "$queue" "$table")
trap 'kill "$azurite_pid" 2>/dev/null || true' EXIT
# Azurite's published development account (the same in every emulator; not a secret).
storage="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:${blob}/devstoreaccount1;QueueEndpoint=http://127.0.0.1:${queue}/devstoreaccount1;TableEndpoint=http://127.0.0.1:${table}/devstoreaccount1;"
dotnet build local-host -c Release --nologo -v q --no-restore
exec_args=(--port "${PORT:-7071}" --storage "$storage" --replay data/movielens "$@")
dotnet local-host/bin/Release/net10.0/Serverless.LocalHost.dll "${exec_args[@]}"
