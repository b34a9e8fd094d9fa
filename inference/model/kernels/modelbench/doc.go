// Package modelbench drives a whole model to measure the kernels where they
// matter: prefill and decode throughput at batch 1, 4 and 8, the bytes of weights
// a decoded token streams, and the fraction of the machine's read bandwidth that
// decode achieves, with the bandwidth measured in the same run by the kernels'
// streaming read. It backs `radix bench model`; it asserts nothing about speed.
package modelbench
