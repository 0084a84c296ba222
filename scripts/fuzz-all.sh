#!/usr/bin/env bash
# Runs every Go fuzz target in the module for the given time each and prints the exec counts.
set -euo pipefail
t=${1:-60s}
cd "$(dirname "$0")/.."
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for fz in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/func //'); do
    echo "== $pkg $fz ($t)"
    go test -run '^$' -fuzz "^$fz\$" -fuzztime "$t" "$pkg" 2>&1 | tail -3
  done
done
