// Package pipelines will compile YAML pipeline definitions and the Go DSL
// into the same engine graph, and report every problem of a YAML file at
// once as "file.yaml:LINE:COL: message". It is the only package (besides
// examples and cmd) that imports both engine and the connectors.
//
// Nothing is implemented here yet; the code arrives with the issues
// "Pipeline engine and Go DSL" and "YAML pipelines, runnel run, and the
// quickstart".
package pipelines
