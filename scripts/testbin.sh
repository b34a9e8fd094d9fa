#!/usr/bin/env bash
# Builds the real kube-apiserver and etcd that the cluster tests (kube/...) run against, from the Go
# module proxy, in throwaway modules under a cache directory — never in radix's own go.mod, so
# k8s.io/kubernetes stays out of radix's dependency graph. Binaries are cached by version: the first run
# takes minutes, later ones a moment.
#
# Usage: eval "$(scripts/testbin.sh)"
# Prints `export RADIX_KUBE_APISERVER=… RADIX_ETCD=…` on stdout; everything else goes to stderr.
#
# Environment: RADIX_TESTBIN_DIR (cache directory), RADIX_KUBE_VERSION (default v1.34.4),
# RADIX_ETCD_VERSION (default v3.6.4, the etcd that kubernetes v1.34.4 itself requires).
set -euo pipefail

KUBE_VERSION="${RADIX_KUBE_VERSION:-v1.34.4}"
ETCD_VERSION="${RADIX_ETCD_VERSION:-v3.6.4}"
DIR="${RADIX_TESTBIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/radix/testbin}"
# The staging modules are published as v0.<minor>.<patch> for kubernetes v1.<minor>.<patch>.
STAGING_VERSION="v0.${KUBE_VERSION#v1.}"

APISERVER="$DIR/bin/kube-apiserver-$KUBE_VERSION"
ETCD="$DIR/bin/etcd-$ETCD_VERSION"

log() { echo "testbin: $*" >&2; }

# Module-mode builds that ignore the caller's GOFLAGS/GOWORK (radix's settings must not leak in).
gobuild_env() { env GOFLAGS=-mod=mod GOWORK=off GO111MODULE=on CGO_ENABLED=0 "$@"; }

build_apiserver() {
	local src="$DIR/src/kube-apiserver-$KUBE_VERSION"
	rm -rf "$src"
	mkdir -p "$src" "$DIR/bin"
	# k8s.io/kubernetes points its staging modules at ./staging/...; a module requiring it must pin each.
	local staging=(api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider
		cluster-bootstrap code-generator component-base component-helpers controller-manager cri-api
		cri-client csi-translation-lib dynamic-resource-allocation endpointslice externaljwt kms
		kube-aggregator kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics
		mount-utils pod-security-admission sample-apiserver sample-cli-plugin sample-controller)
	{
		echo "module radix.local/testbin/kubeapiserver"
		echo
		echo "go 1.24.0"
		echo
		echo "require k8s.io/kubernetes $KUBE_VERSION"
		echo
		echo "replace ("
		for m in "${staging[@]}"; do echo "	k8s.io/$m => k8s.io/$m $STAGING_VERSION"; done
		echo ")"
	} >"$src/go.mod"
	log "resolving k8s.io/kubernetes $KUBE_VERSION (first time: downloads ~a few hundred MB)"
	(cd "$src" && gobuild_env go get "k8s.io/kubernetes/cmd/kube-apiserver@$KUBE_VERSION" >&2)
	log "building kube-apiserver $KUBE_VERSION (first time: several minutes on 2 cores)"
	# Without the version stamp it reports v0.0.0-master, which clients cannot parse.
	(cd "$src" && gobuild_env go build -trimpath \
		-ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(echo "$KUBE_VERSION" | cut -d. -f2)" \
		-o "$APISERVER.tmp" k8s.io/kubernetes/cmd/kube-apiserver >&2)
	mv "$APISERVER.tmp" "$APISERVER"
}

build_etcd() {
	local src="$DIR/src/etcd-$ETCD_VERSION"
	rm -rf "$src"
	mkdir -p "$src" "$DIR/bin"
	cat >"$src/go.mod" <<EOF
module radix.local/testbin/etcd

go 1.24.0

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
EOF
	# A single-member etcd for tests: client and peer URLs from flags, data in --data-dir.
	cat >"$src/main.go" <<'EOF'
// Command etcd runs a single-member embedded etcd for radix's cluster tests.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"go.etcd.io/etcd/server/v3/embed"
)

func main() {
	dataDir := flag.String("data-dir", "", "data directory")
	client := flag.String("listen-client-urls", "http://127.0.0.1:2379", "client URL")
	peer := flag.String("listen-peer-urls", "http://127.0.0.1:2380", "peer URL")
	flag.Parse()
	cu, err := url.Parse(*client)
	if err != nil {
		log.Fatalf("client url: %v", err)
	}
	pu, err := url.Parse(*peer)
	if err != nil {
		log.Fatalf("peer url: %v", err)
	}
	cfg := embed.NewConfig()
	cfg.Dir = *dataDir
	cfg.LogLevel = "error"
	cfg.ListenClientUrls = []url.URL{*cu}
	cfg.AdvertiseClientUrls = []url.URL{*cu}
	cfg.ListenPeerUrls = []url.URL{*pu}
	cfg.AdvertisePeerUrls = []url.URL{*pu}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		log.Fatalf("start etcd: %v", err)
	}
	<-e.Server.ReadyNotify()
	fmt.Println("etcd ready on", cu.String())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-sig:
	case err := <-e.Err():
		log.Fatalf("etcd: %v", err)
	}
	e.Close()
}
EOF
	log "building etcd $ETCD_VERSION"
	(cd "$src" && gobuild_env go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >&2 &&
		gobuild_env go build -trimpath -ldflags "-s -w" -o "$ETCD.tmp" . >&2)
	mv "$ETCD.tmp" "$ETCD"
}

start=$(date +%s)
if [ -x "$ETCD" ]; then log "etcd $ETCD_VERSION cached"; else build_etcd; fi
if [ -x "$APISERVER" ]; then log "kube-apiserver $KUBE_VERSION cached"; else build_apiserver; fi
log "ready in $(($(date +%s) - start))s"
printf 'export RADIX_KUBE_APISERVER=%q RADIX_ETCD=%q\n' "$APISERVER" "$ETCD"
