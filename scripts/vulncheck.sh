#!/usr/bin/env bash
# govulncheck with no network access beyond the Go module proxy: the
# vulnerability database is built from the golang.org/x/vulndb module's OSV
# entries (infra/local/cmd/vulndb) and read from disk.
set -euo pipefail
cd "$(dirname "$0")/.."
VULNDB_MODULE=golang.org/x/vulndb@v0.0.0-20261105234957-e22db6528018
GOVULNCHECK=golang.org/x/vuln/cmd/govulncheck@v1.9.0
# Downloaded outside this module, so go.mod stays as it is.
dir=$(cd "$(mktemp -d)" && GOFLAGS= go mod download -json "$VULNDB_MODULE" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$dir/data/osv" ] || { echo "vulncheck: no OSV entries in $VULNDB_MODULE" >&2; exit 1; }
db=build/vulndb
rm -rf "$db"
go run ./infra/local/cmd/vulndb -osv "$dir/data/osv" -out "$db"
go run "$GOVULNCHECK" -db "file://$PWD/$db" ./...
(cd infra/cdk && go run "$GOVULNCHECK" -db "file://$PWD/../../$db" ./...)
