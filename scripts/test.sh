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

# The console's end-to-end test drives the real binary inside tmux.
if ! command -v tmux >/dev/null 2>&1; then
	echo "== installing tmux (the console's end-to-end test)"
	sudo=""
	[ "$(id -u)" = 0 ] || sudo="sudo -n"
	$sudo apt-get update -qq && $sudo apt-get install -y -qq tmux >/dev/null
fi
# Tests that need tmux or the test API server fail rather than skip when these are missing.
export RADIX_REQUIRE_E2E=1

echo "== go test -race"
go test -race -timeout 25m ./...
