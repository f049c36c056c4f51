#!/usr/bin/env bash
# The main job: the whole system on this machine. The local host starts Azurite (in memory), serves
# every function on http://127.0.0.1:7071/api (in-memory Durable Task, in-process Event Hubs) and
# replays MovieLens (data/movielens) through the facts hub into the Online Archive; then it keeps
# serving until Ctrl-C. Extra arguments go to the local host, e.g. --speed 1000, --max-ratings 20000,
# --exit-after-replay.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/setup.sh
dotnet build local-host -c Release --nologo -v q --no-restore
# Approvals and rollbacks need a signed-in person holding the Approver app role; locally that is
# this development identity (App Service authentication with Entra ID in Azure). Override or unset
# LocalHost__DevelopmentIdentity__Name to act as someone else, or as nobody.
export LocalHost__DevelopmentIdentity__Name="${LocalHost__DevelopmentIdentity__Name-local developer}"
export LocalHost__DevelopmentIdentity__ObjectId="${LocalHost__DevelopmentIdentity__ObjectId-00000000-0000-0000-0000-0000000000d1}"
export LocalHost__DevelopmentIdentity__Roles="${LocalHost__DevelopmentIdentity__Roles-Approver}"
dotnet local-host/bin/Release/net10.0/Serverless.LocalHost.dll --port "${PORT:-7071}" --replay data/movielens "$@"
