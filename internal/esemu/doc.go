// Package esemu is an in-memory emulator of the Elasticsearch 8 REST API,
// an http.Handler for the tests of code that writes to Elasticsearch
// (the official Go client, github.com/elastic/go-elasticsearch/v8, and its
// esutil.BulkIndexer work against it unchanged). It follows the documented
// behaviour of Elasticsearch 8.x for what it implements, so that a test
// suite can run against it or against a real cluster alike; where it does
// not implement something it says so, in an Elasticsearch-shaped error
// whose reason starts with "esemu:", rather than answer wrongly.
//
// Use Start(t) for a server with its URL, or New and (*Server).Start when
// the test also needs the Server: FailNext injects 429/5xx answers into
// _bulk (to test retries), Docs and BulkRequests inspect it without the
// API. Discard is a _bulk endpoint for benchmarks that stores nothing.
//
// # What is emulated
//
// The cluster is a single node; every index has one primary shard, and the
// number_of_replicas it was created with (default 1, which makes _shards
// report "total":2,"successful":1 and the cluster health yellow, as on a
// one-node cluster). Every response carries X-Elastic-Product:
// Elasticsearch, which the Go client checks. Requests with a body must
// have a JSON Content-Type (application/json, application/x-ndjson, or
// their application/vnd.elasticsearch+...;compatible-with=8 versions), or
// get Elasticsearch's 406; gzip and deflate request bodies are inflated.
// Unknown query parameters, and bodies sent to APIs that take none, are
// refused as Elasticsearch refuses them; pretty and filter_path work
// everywhere.
//
//   - GET / (cluster info, version Version), GET /_cluster/health.
//   - Indices (https://www.elastic.co/guide/en/elasticsearch/reference/8.15/indices.html):
//     PUT, HEAD, GET and DELETE /<index>, GET|PUT /<index>/_mapping,
//     /_refresh. Writes create missing indices. Index names are validated
//     as Elasticsearch does (lowercase, no leading _ - +, ...).
//   - Documents: the bulk API
//     (https://www.elastic.co/guide/en/elasticsearch/reference/8.15/docs-bulk.html),
//     index/create (PUT|POST /<index>/_doc/<id>, POST /<index>/_doc,
//     PUT /<index>/_create/<id>), get (GET|HEAD /<index>/_doc/<id>,
//     /<index>/_source/<id>), delete, update (partial doc, upsert,
//     doc_as_upsert, detect_noop), mget, delete_by_query.
//   - Versioning and optimistic concurrency control as documented in
//     https://www.elastic.co/guide/en/elasticsearch/reference/8.15/docs-index_.html#index-versioning
//     and .../optimistic-concurrency-control.html: internal versions,
//     version_type external (the version must be greater than the current
//     one) and external_gte (greater or equal), if_seq_no and
//     if_primary_term, op_type create; a version conflict is a 409
//     version_conflict_engine_exception with Elasticsearch's reason text.
//     A delete leaves a tombstone that keeps the document's version, so
//     that a later externally versioned write must still be newer;
//     Elasticsearch drops tombstones after index.gc_deletes (60s), the
//     emulator keeps them forever. _seq_no grows by one per write of the
//     index (its one shard); _primary_term is always 1.
//   - Dynamic mapping
//     (https://www.elastic.co/guide/en/elasticsearch/reference/8.15/dynamic-field-mapping.html):
//     the first value of a new field fixes its type (long, float, boolean,
//     date when date_detection recognises the string, text with a keyword
//     sub-field with ignore_above 256, object); explicit mappings given at
//     index creation or with PUT _mapping are honoured, with dynamic
//     (true, false, strict). A value that does not fit its field, a source
//     that is not a JSON object, metadata fields in a source, too deep
//     objects or too many fields make that item fail with a 400
//     document_parsing_exception (or strict_dynamic_mapping_exception)
//     while the other items of a bulk succeed.
//   - Near real-time search
//     (https://www.elastic.co/guide/en/elasticsearch/reference/8.15/near-real-time.html):
//     GET and mget are realtime, but _search, _count and
//     _delete_by_query only see what the last refresh made visible: a
//     refresh=true|wait_for on the write, or POST /_refresh. There is no
//     periodic refresh (Elasticsearch's default refresh_interval is 1s), so
//     tests wait for nothing but must refresh.
//   - Search and count, on index lists and wildcard patterns: the queries
//     match_all, match_none, term, terms, range (numbers, dates with date
//     math, strings), exists, ids, bool (must, filter, should with
//     minimum_should_match, must_not), match (text fields analysed by an
//     approximation of the standard analyzer), prefix, wildcard,
//     constant_score; size, from (and the 10000 result window), sort on
//     fields, _score and _doc with missing and mode, _source filtering,
//     track_total_hits, post_filter, version, seq_no_primary_term,
//     min_score, terminate_after. Scores are not BM25: a matching leaf query
//     scores its boost (match: one per matched term), bool sums its must and
//     should clauses, filter context scores 0; equal scores keep index order.
//
// # What is not
//
// Aggregations, highlighting, scripts (scripted updates included),
// ingest pipelines (the pipeline parameter is accepted and ignored),
// aliases, data streams, index templates, scroll and point in time,
// search_after, query_string and the other queries not listed above,
// analyzers other than the standard one, routing (accepted, one shard),
// custom date formats (read as strict_date_optional_time||epoch_millis),
// time zones in range queries, and the cluster, node, cat, snapshot and
// security APIs. Sorting on _id is refused, as in Elasticsearch 8 where
// indices.id_field_data.enabled defaults to false. A final bulk action
// without its source line is ignored, as Elasticsearch ignores it.
package esemu
