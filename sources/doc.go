// Package sources groups the source connectors, one package per system
// below it, each implementing connect.Source: sources/topic (Kafka topics,
// as a consumer group member) and sources/file (lines, JSON lines or CSV
// from files, following appends). Postgres comes next. Heavy client
// libraries live only in those packages.
package sources
