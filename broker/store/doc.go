// Package store manages a broker's data directory: the broker's identity,
// its topics, and one partition log (package log) per partition. It is
// what the Kafka protocol handlers will call to create, describe, alter and
// delete topics and to find the log of a partition; it knows nothing about
// the wire.
//
// # Layout
//
// The layout is Kafka's, so the usual tools and habits apply:
//
//	<data-dir>/
//	  .lock                          flock'ed while a Store has the directory open
//	  meta.properties                identity: version, cluster.id, node.id
//	  topics.json                    the topics: names, ids, partition counts, configs
//	  orders-0/                      partition 0 of topic "orders" (see package log)
//	  orders-1/
//	  page.views-0/
//	  orders-2.4f9c...e1-delete/     a deleted partition, being removed
//	  old-0.9b1d...07-stray/         data topics.json does not account for; kept
//
// # meta.properties
//
// Written once, when the directory is first opened, and checked at every
// Open, like Kafka's meta.properties (Java properties syntax: "key=value"
// lines, "#" comments; other keys are ignored):
//
//	#
//	# Written by runnel when the data directory was created. Do not edit:
//	# runnel checks it at every start.
//	#
//	version=1
//	cluster.id=kXm3Y6zFQ0eb9cZP_2r1sA      16 random bytes (a version-4 UUID),
//	node.id=0                              base64url without padding, as Kafka prints it
//
// A line that is not key=value, a repeated key, a version other than 1, a
// cluster.id that is not a UUID, a missing key, or a node.id other than
// Options.NodeID stops Open with a *CorruptError naming the file and the
// line ("data/meta.properties:6: version=2: this runnel reads version 1
// only").
//
// # topics.json
//
// The topics, in one JSON document:
//
//	{
//	  "version": 1,
//	  "topics": [                        sorted by name
//	    {
//	      "name": "orders",              Kafka's rules: [a-zA-Z0-9._-]{1,249}, not "." or ".."
//	      "id": "c2F0dXJkYXkgbW9ybmluZw", the topic id (a UUID like cluster.id), for Metadata v10+
//	      "partitions": 3,               partitions 0..2 live in orders-0 .. orders-2
//	      "configs": {                   only the configs set on the topic (keys of
//	        "cleanup.policy": "compact", log.ConfigKeys); omitted when none are
//	        "retention.ms": "86400000"
//	      }
//	    }
//	  ]
//	}
//
// It is the only source of truth for which topics and partitions exist.
// Directory names are never parsed to find topics: "<topic>-<partition>"
// can be split at its last '-' without ambiguity, but a directory may be a
// leftover of an interrupted create or delete, and only topics.json says
// which. Broker-wide defaults (Options.DefaultTopicConfig) are not written:
// like Kafka's server.properties, they belong to the process.
//
// Why one file rather than one per topic: topics are few (hundreds, not
// millions) and change rarely, so rewriting all of them on every change
// costs nothing that matters, and in exchange every change, however many
// topics or partitions it touches, is one atomic step: write
// "topics.json.tmp", fsync it, rename it over topics.json, fsync the
// directory. There is never a state in which half a change is visible, no
// directory of small files to scan at startup, and nothing to reconcile
// between files. JSON because a person can read it and diff it; it carries
// no checksum because it is never written in place (a torn write is
// impossible), and Open checks every field of it (names, unique ids,
// partition counts, configs through log.FromConfig) and refuses to start on
// anything wrong, with the file and line in the error.
//
// # Crash safety of topic changes
//
// The commit point of every change is the rename of topics.json, and the
// order of the steps around it makes every crash state harmless:
//
//   - CreateTopic and CreatePartitions create and open the new partition
//     directories first and commit second. A crash in between leaves empty
//     directories that no topic owns; Open removes them.
//   - DeleteTopic commits first, then renames each partition directory to
//     "<topic>-<p>.<32 hex digits>-delete" and removes it. A crash leaves
//     "-delete" directories, which Open removes, or (before the rename)
//     directories with data that no topic owns.
//   - Open never deletes data it cannot account for: a partition directory
//     that holds records but belongs to no topic of topics.json is renamed
//     "<topic>-<p>.<32 hex digits>-stray" and reported in the log, as Kafka
//     does with stray partitions. A partition created later under the same
//     name starts empty.
//   - SetTopicConfig commits, then applies the configs to the open logs.
//
// # Maintenance
//
// A janitor goroutine, owned by the Store and stopped and waited for by
// Close, runs the maintenance every Options.BackgroundInterval: for each
// partition, Tick (flush.ms) and Compact, and every
// Options.RetentionCheckInterval (5 minutes by default, as Kafka's
// log.retention.check.interval.ms) EnforceRetention. Errors are logged,
// never fatal. Tests set BackgroundInterval to 0 and call
// RunMaintenance themselves with an injected clock (Options.Now).
//
// # Usage
//
//	st, err := store.Open("data", nil) // DefaultOptions
//	if err != nil { ... }
//	defer st.Close()
//	if _, err := st.CreateTopic("orders", 3, map[string]string{"retention.ms": "86400000"}); err != nil &&
//		!errors.Is(err, store.ErrTopicExists) { ... }
//	l, err := st.Partition("orders", 0)
//	res, err := l.Append(batchBytes)
package store
