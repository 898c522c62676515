// Package hmdtest holds hmd's end-to-end tests: real hmd processes, built
// once per test binary, running in network namespaces cabled to a bridge,
// with a client namespace that also plays the default gateway. They prove
// what the unit tests cannot: that a VIP really moves (the client's
// neighbour entry and a TCP connection follow it), that the seed's states
// are walked, that a cut heartbeat link does not make two owners, and that
// forged and replayed heartbeats are refused on the wire.
package hmdtest
