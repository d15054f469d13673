// Package engine will be runnel's pipeline runtime: records with key,
// value, headers, timestamp and source position; stateless operators (map,
// filter, flatMap, branch, merge, keyBy through a repartition topic) and
// windowed ones (tumbling, hopping, sliding, session) over event time with
// watermarks, grace and a late output; keyed state checkpointed with the
// input positions; backpressure through bounded queues; metrics hooks.
//
// It imports nothing from connect, sources, sinks, pipelines or broker: it
// reaches topics only through the Kafka protocol (franz-go), so the
// built-in broker and a real Kafka cluster are interchangeable, and it
// scales out as members of a Kafka consumer group.
//
// Nothing is implemented here yet; the code arrives with the issue
// "Pipeline engine and Go DSL, with exactly-once from the first line".
package engine
