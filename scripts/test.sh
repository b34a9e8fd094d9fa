#!/usr/bin/env bash
# The test command of the README: everything the tests need is set up here, on a fresh machine too.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go') 2>/dev/null || true)
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...

# A real kube-apiserver and etcd for the cluster tests, built from the Go module proxy and cached.
if [ -x scripts/testbin.sh ]; then
	echo "== test binaries (kube-apiserver, etcd)"
	eval "$(scripts/testbin.sh)"
fi

echo "== go test -race"
go test -race -timeout 25m ./...
