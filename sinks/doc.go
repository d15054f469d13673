// Package sinks groups the sink connectors, one package per system below
// it, each implementing connect.Sink and declaring whether it delivers
// exactly once: sinks/topic (Kafka topics; exactly once in transactions
// with a topic source) and sinks/file (part files renamed atomically with
// the positions they cover). Postgres and Elasticsearch come next.
package sinks
