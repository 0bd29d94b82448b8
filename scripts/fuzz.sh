#!/usr/bin/env bash
# Runs every fuzz target of the module, one after another, for the given
# time each: scripts/fuzz.sh 2s (a smoke run) or scripts/fuzz.sh 60s.
# Prints one line per target and fails if any target failed.
set -euo pipefail

if [[ $# -ne 1 || -z $1 ]]; then
  echo "usage: $0 <fuzztime per target, e.g. 2s or 60s>" >&2
  exit 2
fi
fuzztime=$1
cd "$(dirname "$0")/.."
GO=${GO:-go}

# "<dir> <Name>" for every func Fuzz* in a *_test.go, outside infra/cdk
# (its own module) and node_modules.
mapfile -t targets < <(
  grep -rE --include='*_test.go' -o '^func Fuzz[A-Za-z0-9_]*\(' . \
    --exclude-dir=node_modules --exclude-dir=.git |
    grep -v '^\./infra/cdk/' |
    sed -E 's#^\./(.*)/[^/]*:func (Fuzz[A-Za-z0-9_]*)\($#\1 \2#' |
    sort -u
)
if [[ ${#targets[@]} -eq 0 ]]; then
  echo "no fuzz targets found" >&2
  exit 1
fi

failed=0
start=$SECONDS
for t in "${targets[@]}"; do
  read -r dir name <<<"$t"
  log=$(mktemp)
  t0=$SECONDS
  if "$GO" test -run='^$' -fuzz="^${name}\$" -fuzztime="$fuzztime" "./$dir" >"$log" 2>&1; then
    printf 'ok    %-40s %s (%ds)\n' "./$dir" "$name" $((SECONDS - t0))
  else
    printf 'FAIL  %-40s %s (%ds)\n' "./$dir" "$name" $((SECONDS - t0))
    sed 's/^/      /' "$log"
    failed=$((failed + 1))
  fi
  rm -f "$log"
done
echo "${#targets[@]} targets, $failed failed, $((SECONDS - start))s"
[[ $failed -eq 0 ]]
