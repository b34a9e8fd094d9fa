// Package discovery is how workers find their frontend and the frontend keeps its list of workers:
// Dynamo's registration and lease model over plain HTTP, without etcd.
//
// A worker registers (model, role, endpoint, KV capacity, page size, namespace) and gets a lease; it
// keeps the lease alive with heartbeats. The frontend's Registry drops a registration whose lease lapses
// and logs Dynamo's `removed model` line when a model loses its last endpoint, `added model` when one
// gains its first. A frontend restart forgets every lease; each worker's next heartbeat is refused as
// unknown and the worker registers again at once, so no worker is missing for longer than a heartbeat
// interval.
//
// The Registry is safe for concurrent use; subscribers (the router) are called outside its lock, in the
// order changes happened.
package discovery
