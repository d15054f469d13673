// Package sinks groups the sink connectors, one package per system below
// it (sinks/topic, sinks/file, sinks/postgres, sinks/elasticsearch, ...),
// each registering itself with package connect and declaring whether it
// delivers exactly once.
//
// None exists yet; they arrive with the engine and connector issues.
package sinks
