#!/usr/bin/env bash
# A synthetic N-times copy of MovieLens for scale measurements (issue 12): the catalog as it is, and
# every member's ratings N times, copy k under the member id + k * 1,000,000 (so fact ids, which are
# rating:<member>:<title>, are new too). The data is generated, never committed.
#   scripts/synthetic-copy.sh 3 /tmp/movielens-3x
#   dotnet run -c Release --project bench -- snapshot --data /tmp/movielens-3x
set -euo pipefail
copies="${1:?usage: synthetic-copy.sh <copies> <output folder> [source folder]}"
out="${2:?usage: synthetic-copy.sh <copies> <output folder> [source folder]}"
src="${3:-$(cd "$(dirname "$0")/.." && pwd)/data/movielens}"
mkdir -p "$out"
cp "$src/movies.csv" "$out/movies.csv"
awk -F, -v copies="$copies" 'NR == 1 { print; next } { for (k = 0; k < copies; k++) { printf "%d,%s,%s,%s\n", $1 + k * 1000000, $2, $3, $4 } }' "$src/ratings.csv" > "$out/ratings.csv"
echo "$out: $(($(wc -l < "$out/ratings.csv") - 1)) ratings ($copies x $(($(wc -l < "$src/ratings.csv") - 1))), $(($(wc -l < "$out/movies.csv") - 1)) titles"
