// Package connect will hold the connector contract (sources that emit
// records with positions; sinks that receive batches with the positions
// they cover and, for exactly-once, store those positions atomically with
// their output) and the connector worker processes (`runnel connect
// worker`). It adapts connectors into engine operators; it imports engine
// and nothing above it.
//
// Nothing is implemented here yet; the contract arrives with the issue
// "Pipeline engine and Go DSL, with exactly-once from the first line".
package connect
