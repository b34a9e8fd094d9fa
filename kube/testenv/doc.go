// Package testenv runs a real kube-apiserver and etcd on loopback for radix's cluster tests: the
// binaries come from scripts/testbin.sh (RADIX_KUBE_APISERVER, RADIX_ETCD), certificates, service
// account keys and a static token file are generated in a temporary directory, kubeconfigs are written
// for an admin (system:masters) and an unprivileged user, and the Dynamo CRDs of kube/crds are installed.
//
// No kubelet, scheduler or controllers run: pods stay Pending and nothing reconciles, so tests play the
// operator and the kubelet by writing status themselves.
package testenv
