package esemu

import "net/http"

// The query parameters each API accepts, after the REST API specification
// (the Go client's esapi sends no others). Parameters that only tune
// behaviour the emulator does not have (timeouts, routing, preference...)
// are accepted and ignored.
var (
	writeParams = params("if_primary_term", "if_seq_no", "include_source_on_error", "op_type", "pipeline",
		"refresh", "require_alias", "require_data_stream", "routing", "timeout", "version", "version_type",
		"wait_for_active_shards")
	bulkParams = params("_source", "_source_excludes", "_source_includes", "include_source_on_error",
		"list_executed_pipelines", "pipeline", "refresh", "require_alias", "require_data_stream", "routing",
		"timeout", "wait_for_active_shards")
	getParams = params("_source", "_source_excludes", "_source_includes", "force_synthetic_source",
		"preference", "realtime", "refresh", "routing", "stored_fields", "version", "version_type")
	deleteParams = params("if_primary_term", "if_seq_no", "refresh", "routing", "timeout", "version",
		"version_type", "wait_for_active_shards")
	updateParams = params("_source", "_source_excludes", "_source_includes", "if_primary_term", "if_seq_no",
		"include_source_on_error", "lang", "refresh", "require_alias", "retry_on_conflict", "routing", "timeout",
		"wait_for_active_shards")
	mgetParams = params("_source", "_source_excludes", "_source_includes", "force_synthetic_source",
		"preference", "realtime", "refresh", "routing", "stored_fields")
	refreshParams = params("allow_no_indices", "expand_wildcards", "ignore_unavailable")
	searchParams  = params("_source", "_source_excludes", "_source_includes", "allow_no_indices",
		"allow_partial_search_results", "analyze_wildcard", "analyzer", "batched_reduce_size",
		"ccs_minimize_roundtrips", "default_operator", "df", "docvalue_fields", "expand_wildcards", "explain",
		"force_synthetic_source", "from", "ignore_throttled", "ignore_unavailable", "include_named_queries_score",
		"lenient", "max_concurrent_shard_requests", "min_compatible_shard_node", "pre_filter_shard_size",
		"preference", "q", "request_cache", "rest_total_hits_as_int", "routing", "scroll", "search_type",
		"seq_no_primary_term", "size", "sort", "stats", "stored_fields", "suggest_field", "suggest_mode",
		"suggest_size", "suggest_text", "terminate_after", "timeout", "track_scores", "track_total_hits",
		"typed_keys", "version")
	countParams = params("allow_no_indices", "analyze_wildcard", "analyzer", "default_operator", "df",
		"expand_wildcards", "ignore_throttled", "ignore_unavailable", "lenient", "min_score", "preference", "q",
		"routing", "terminate_after")
	createIndexParams = params("master_timeout", "timeout", "wait_for_active_shards")
	deleteIndexParams = params("allow_no_indices", "expand_wildcards", "ignore_unavailable", "master_timeout",
		"timeout")
	getIndexParams = params("allow_no_indices", "expand_wildcards", "features", "flat_settings",
		"ignore_unavailable", "include_defaults", "local", "master_timeout")
	getMappingParams = params("allow_no_indices", "expand_wildcards", "ignore_unavailable", "local",
		"master_timeout")
	putMappingParams = params("allow_no_indices", "expand_wildcards", "ignore_unavailable", "master_timeout",
		"timeout", "write_index_only")
	deleteByQueryParams = params("allow_no_indices", "analyze_wildcard", "analyzer", "conflicts",
		"default_operator", "df", "expand_wildcards", "from", "ignore_unavailable", "lenient", "max_docs",
		"preference", "q", "refresh", "request_cache", "requests_per_second", "routing", "scroll", "scroll_size",
		"search_timeout", "search_type", "slices", "sort", "stats", "terminate_after", "timeout", "version",
		"wait_for_active_shards", "wait_for_completion")
	healthParams = params("expand_wildcards", "level", "local", "master_timeout", "timeout",
		"wait_for_active_shards", "wait_for_events", "wait_for_no_initializing_shards",
		"wait_for_no_relocating_shards", "wait_for_nodes", "wait_for_status")
	noParams = params()
)

func h(fn func(s *Server, rq *request) (int, any), p map[string]bool) handler {
	return handler{fn: fn, params: p}
}

// nb is h for a handler that takes no body.
func nb(fn func(s *Server, rq *request) (int, any), p map[string]bool) handler {
	return handler{fn: fn, params: p, noBody: true}
}

var (
	epRoot = &endpoint{methods: map[string]handler{
		http.MethodGet:  nb((*Server).info, noParams),
		http.MethodHead: nb((*Server).info, noParams),
	}}
	epBulk = &endpoint{methods: map[string]handler{
		http.MethodPost: h((*Server).bulk, bulkParams),
		http.MethodPut:  h((*Server).bulk, bulkParams),
	}}
	epMget = &endpoint{methods: map[string]handler{
		http.MethodGet:  h((*Server).mget, mgetParams),
		http.MethodPost: h((*Server).mget, mgetParams),
	}}
	epRefresh = &endpoint{methods: map[string]handler{
		http.MethodGet:  nb((*Server).refreshAPI, refreshParams),
		http.MethodPost: nb((*Server).refreshAPI, refreshParams),
	}}
	epSearch = &endpoint{methods: map[string]handler{
		http.MethodGet:  h((*Server).search, searchParams),
		http.MethodPost: h((*Server).search, searchParams),
	}}
	epCount = &endpoint{methods: map[string]handler{
		http.MethodGet:  h((*Server).count, countParams),
		http.MethodPost: h((*Server).count, countParams),
	}}
	epHealth = &endpoint{methods: map[string]handler{
		http.MethodGet: nb((*Server).health, healthParams),
	}}
	epGetMapping = &endpoint{methods: map[string]handler{
		http.MethodGet: nb((*Server).getMapping, getMappingParams),
	}}
	epIndex = &endpoint{methods: map[string]handler{
		http.MethodPut:    h((*Server).createIndex, createIndexParams),
		http.MethodHead:   nb((*Server).indexExists, getIndexParams),
		http.MethodGet:    nb((*Server).getIndex, getIndexParams),
		http.MethodDelete: nb((*Server).deleteIndex, deleteIndexParams),
	}}
	epMapping = &endpoint{methods: map[string]handler{
		http.MethodGet:  nb((*Server).getMapping, getMappingParams),
		http.MethodPut:  h((*Server).putMapping, putMappingParams),
		http.MethodPost: h((*Server).putMapping, putMappingParams),
	}}
	epDocAutoID = &endpoint{methods: map[string]handler{
		http.MethodPost: h((*Server).indexDoc, writeParams),
	}}
	epDoc = &endpoint{methods: map[string]handler{
		http.MethodPut:    h((*Server).indexDoc, writeParams),
		http.MethodPost:   h((*Server).indexDoc, writeParams),
		http.MethodGet:    nb((*Server).getDoc, getParams),
		http.MethodHead:   nb((*Server).getDoc, getParams),
		http.MethodDelete: nb((*Server).deleteDoc, deleteParams),
	}}
	epCreate = &endpoint{methods: map[string]handler{
		http.MethodPut:  h((*Server).indexDoc, writeParams),
		http.MethodPost: h((*Server).indexDoc, writeParams),
	}}
	epUpdate = &endpoint{methods: map[string]handler{
		http.MethodPost: h((*Server).updateDoc, updateParams),
	}}
	epSource = &endpoint{methods: map[string]handler{
		http.MethodGet:  nb((*Server).getSource, getParams),
		http.MethodHead: nb((*Server).getSource, getParams),
	}}
	epDeleteByQuery = &endpoint{methods: map[string]handler{
		http.MethodPost: h((*Server).deleteByQuery, deleteByQueryParams),
	}}
)

// route finds the endpoint of a path, or nil.
func route(segs []string) *endpoint {
	switch len(segs) {
	case 0:
		return epRoot
	case 1:
		switch segs[0] {
		case "_bulk":
			return epBulk
		case "_mget":
			return epMget
		case "_refresh":
			return epRefresh
		case "_search":
			return epSearch
		case "_count":
			return epCount
		case "_mapping":
			return epGetMapping
		}
		// PUT /_foo is an attempt to create an invalidly named index.
		return epIndex
	case 2:
		if segs[0] == "_cluster" && segs[1] == "health" {
			return epHealth
		}
		if isAPIName(segs[0]) {
			return nil
		}
		switch segs[1] {
		case "_bulk":
			return epBulk
		case "_mget":
			return epMget
		case "_refresh":
			return epRefresh
		case "_search":
			return epSearch
		case "_count":
			return epCount
		case "_mapping":
			return epMapping
		case "_doc":
			return epDocAutoID
		case "_delete_by_query":
			return epDeleteByQuery
		}
	case 3:
		if segs[0] == "_cluster" && segs[1] == "health" {
			return epHealth
		}
		if isAPIName(segs[0]) {
			return nil
		}
		switch segs[1] {
		case "_doc":
			return epDoc
		case "_create":
			return epCreate
		case "_update":
			return epUpdate
		case "_source":
			return epSource
		}
	}
	return nil
}

// isAPIName reports whether a first path segment names an API rather than
// an index (index names cannot start with '_').
func isAPIName(seg string) bool {
	return len(seg) > 0 && seg[0] == '_' && seg != "_all"
}
