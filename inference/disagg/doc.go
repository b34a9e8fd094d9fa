// Package disagg is the KV transfer between a disaggregated prefill worker and a decode worker: a framed
// binary protocol over TCP with a checksum on every frame, heartbeats and timeouts.
//
// The flow follows SGLang's PD disaggregation. The frontend tags a request with a random 63-bit
// bootstrap room and sends it to a decode worker, naming a prefill worker. The decode worker allocates
// pages for the prompt and opens a transfer connection to the prefill worker with a KVRequest that
// carries the room, the prompt and its own page ids — it tells prefill where the KV goes. The prefill
// worker computes the prompt (its own radix cache serves any cached prefix), streams the pages' K and V
// for every layer in KVPages frames addressed to those page ids, then the first token and Done. The
// decode worker writes each page into its pool as it arrives and continues decoding.
//
// Every frame carries the room, so a frame of another request is refused, and a CRC-32C of its payload,
// so a corrupted page is never written into a pool. Both ends send a Ping when idle; an end that hears
// nothing for two heartbeat intervals declares the other offline and aborts the transfer, and the
// request fails with its pre-allocated pages freed on both sides.
package disagg
