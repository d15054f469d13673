// Package sources groups the source connectors, one package per system
// below it (sources/topic, sources/file, sources/postgres, ...), each
// registering itself with package connect. Heavy client libraries live
// only in those packages.
//
// None exists yet; they arrive with the engine and connector issues.
package sources
