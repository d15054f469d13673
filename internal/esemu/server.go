package esemu

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Version is the Elasticsearch version the emulator answers GET / with.
const Version = "8.15.0"

const (
	luceneVersion = "9.11.1"
	clusterName   = "esemu"
	nodeName      = "esemu"
	nodeID        = "ZXNlbXVub2RlMDAwMDAwMA"
	// maxContentLength is Elasticsearch's default http.max_content_length.
	maxContentLength = 100 << 20
)

// Server is an Elasticsearch 8 API emulator in memory. The zero value is
// not usable; call New.
type Server struct {
	mu           sync.Mutex
	indices      map[string]*index
	failLeft     int
	failStatus   int
	bulkRequests int
	clusterUUID  string
}

// Doc is a document as the emulator stores it.
type Doc struct {
	Source      json.RawMessage // the _source, byte for byte as it was indexed (re-serialised after an update)
	Version     int64
	SeqNo       int64
	PrimaryTerm int64
}

// New returns an emulator with no indices. It does not listen: serve it
// with net/http (or use Start).
func New() *Server {
	return &Server{indices: map[string]*index{}, clusterUUID: randomID(22)}
}

// Start starts an httptest server with a New emulator, closes it when t's
// test ends, and returns its URL.
func Start(t testing.TB) string {
	t.Helper()
	return New().Start(t)
}

// Start starts an httptest server serving s, closes it when t's test ends,
// and returns its URL. It is for tests that also need s itself (for
// FailNext, Docs or BulkRequests).
func (s *Server) Start(t testing.TB) string {
	t.Helper()
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv.URL
}

// Close drops every index. The server still answers afterwards, as an
// empty cluster.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.indices = map[string]*index{}
}

// FailNext makes the next n requests to a _bulk endpoint answer status
// (429, or a 5xx) with an Elasticsearch-shaped error body, without applying
// any of their items. A later call replaces an earlier one's remainder.
func (s *Server) FailNext(n int, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failLeft, s.failStatus = n, status
}

// Docs returns the current (realtime) documents of index, by id: what a
// GET would find, whether or not a refresh made them searchable. Deleted
// documents are absent. It is empty if the index does not exist.
func (s *Server) Docs(index string) map[string]Doc {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]Doc{}
	ix := s.indices[index]
	if ix == nil {
		return out
	}
	for id, d := range ix.docs {
		if d.deleted {
			continue
		}
		out[id] = Doc{Source: bytes.Clone(d.source), Version: d.version, SeqNo: d.seqNo, PrimaryTerm: primaryTerm}
	}
	return out
}

// BulkRequests returns how many requests to a _bulk endpoint the server
// has answered, whatever their outcome (failures injected by FailNext and
// whole-request errors included).
func (s *Server) BulkRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bulkRequests
}

// countBulk counts a bulk request, and returns the status FailNext
// injects into it, if any.
func (s *Server) countBulk() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bulkRequests++
	if s.failLeft > 0 {
		s.failLeft--
		return s.failStatus
	}
	return 0
}

// request is one HTTP request being served.
type request struct {
	method string
	path   string // as sent, for error messages
	uri    string // path and query, for error messages
	segs   []string
	query  url.Values
	body   []byte
	header http.Header
	start  time.Time
}

// param returns a query parameter and whether it was given.
func (rq *request) param(name string) (string, bool) {
	vs, ok := rq.query[name]
	if !ok || len(vs) == 0 {
		return "", ok
	}
	return vs[len(vs)-1], true
}

// boolParam parses a boolean query parameter the way Elasticsearch does:
// only "true", "false" and "" (true) are accepted.
func (rq *request) boolParam(name string, def bool) (bool, *esError) {
	v, ok := rq.param(name)
	if !ok {
		return def, nil
	}
	switch v {
	case "", "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, errIllegalArgument("Failed to parse value [%s] as only [true] or [false] are allowed.", v)
}

// intParam parses an integer query parameter.
func (rq *request) intParam(name string, def int64) (int64, *esError) {
	v, ok := rq.param(name)
	if !ok {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, errIllegalArgument("Failed to parse int parameter [%s] with value [%s]", name, v)
	}
	return n, nil
}

func (rq *request) tookMillis() int64 {
	return time.Since(rq.start).Milliseconds()
}

// ServeHTTP answers one request of the Elasticsearch REST API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rq, status, body := s.prepare(w, r)
	if rq != nil {
		status, body = s.dispatch(rq)
	}
	writeResponse(w, r, rq, status, body)
}

// prepare reads the request; on failure it returns a nil request and the
// response to send.
func (s *Server) prepare(w http.ResponseWriter, r *http.Request) (*request, int, any) {
	rq := &request{
		method: r.Method,
		path:   r.URL.Path,
		uri:    r.URL.RequestURI(),
		query:  r.URL.Query(),
		header: r.Header,
		start:  time.Now(),
	}
	segs, ok := splitPath(r.URL.EscapedPath())
	if !ok {
		e := errIllegalArgument("no handler found for uri [%s] and method [%s]", rq.uri, r.Method)
		return nil, e.status, e
	}
	rq.segs = segs
	body, err := readBody(w, r)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, http.StatusRequestEntityTooLarge, nil
		}
		e := errParse("failed to read the request body: %v", err)
		return nil, e.status, e
	}
	rq.body = body
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip", "deflate":
		// As Netty's HttpContentDecompressor does for Elasticsearch (the Go
		// client's CompressRequestBody sends gzip).
		plain, err := decompress(enc, body)
		if err != nil {
			e := errParse("failed to decompress the request body: %v", err)
			return nil, e.status, e
		}
		if plain == nil {
			return nil, http.StatusRequestEntityTooLarge, nil
		}
		rq.body = plain
	default:
		e := errIllegalArgument("esemu: Content-Encoding [%s] is not supported", enc)
		return nil, e.status, e
	}
	if len(rq.body) == 0 {
		if src, ok := rq.param("source"); ok {
			rq.body = []byte(src)
			if ct, _ := rq.param("source_content_type"); ct != "" {
				rq.header = rq.header.Clone()
				rq.header.Set("Content-Type", ct)
			}
		}
	}
	return rq, 0, nil
}

// readBody reads a request's body, up to maxContentLength.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	rd := http.MaxBytesReader(w, r.Body, maxContentLength)
	if n := r.ContentLength; n > 0 && n <= maxContentLength {
		var buf bytes.Buffer
		buf.Grow(int(n) + 1)
		_, err := buf.ReadFrom(rd)
		return buf.Bytes(), err
	}
	return io.ReadAll(rd)
}

// decompress inflates a gzip or deflate request body; nil means it is
// larger than maxContentLength.
func decompress(enc string, body []byte) ([]byte, error) {
	var rd io.Reader
	if enc == "deflate" {
		zr, err := zlib.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		rd = zr
	} else {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		rd = zr
	}
	plain, err := io.ReadAll(io.LimitReader(rd, maxContentLength+1))
	if err != nil {
		return nil, err
	}
	if len(plain) > maxContentLength {
		return nil, nil
	}
	return plain, nil
}

// splitPath splits an escaped URL path into unescaped segments, ignoring
// one trailing slash.
func splitPath(p string) ([]string, bool) {
	p = strings.TrimPrefix(p, "/")
	p = strings.TrimSuffix(p, "/")
	if p == "" {
		return nil, true
	}
	parts := strings.Split(p, "/")
	for i, part := range parts {
		if part == "" {
			return nil, false
		}
		u, err := url.PathUnescape(part)
		if err != nil {
			return nil, false
		}
		parts[i] = u
	}
	return parts, true
}

// dispatch routes a request to its handler, checking the method, the
// Content-Type and the query parameters first, as Elasticsearch's
// RestController does. A panic in a handler becomes a 500 error response:
// the emulator never crashes on its input.
func (s *Server) dispatch(rq *request) (status int, body any) {
	defer func() {
		if p := recover(); p != nil {
			e := newErr(http.StatusInternalServerError, "exception", "esemu: internal error: %v", p)
			status, body = e.status, e
		}
	}()
	ep := route(rq.segs)
	if ep == nil {
		e := errIllegalArgument("no handler found for uri [%s] and method [%s]", rq.uri, rq.method)
		return e.status, e
	}
	h, ok := ep.methods[rq.method]
	if !ok {
		return s.methodNotAllowed(rq, ep)
	}
	if ep == epBulk {
		if status := s.countBulk(); status != 0 {
			return status, injectedError(status)
		}
	}
	if len(rq.body) > 0 {
		if e := checkContentType(rq.header); e != nil {
			return e.status, e
		}
	}
	if e := checkParams(rq, h.params); e != nil {
		return e.status, e
	}
	if h.noBody && len(rq.body) > 0 {
		e := errIllegalArgument("request [%s %s] does not support having a body", rq.method, rq.path)
		return e.status, e
	}
	return h.fn(s, rq)
}

func (s *Server) methodNotAllowed(rq *request, ep *endpoint) (int, any) {
	allowed := make([]string, 0, len(ep.methods))
	for m := range ep.methods {
		allowed = append(allowed, m)
	}
	sort.Strings(allowed)
	if rq.method == http.MethodOptions {
		return http.StatusOK, allowHeader(strings.Join(allowed, ","))
	}
	e := &esError{status: http.StatusMethodNotAllowed, simple: true,
		reason: fmt.Sprintf("Incorrect HTTP method for uri [%s] and method [%s], allowed: [%s]", rq.uri, rq.method, strings.Join(allowed, ", "))}
	return e.status, withAllow{e, strings.Join(allowed, ",")}
}

// allowHeader is the empty answer to an OPTIONS request.
type allowHeader string

// withAllow is an error response carrying an Allow header.
type withAllow struct {
	err   *esError
	allow string
}

// checkContentType accepts the media types Elasticsearch parses as JSON,
// and answers like Elasticsearch (406) to the others.
func checkContentType(h http.Header) *esError {
	cts := h.Values("Content-Type")
	if len(cts) == 0 {
		return &esError{status: http.StatusNotAcceptable, simple: true, reason: "Content-Type header is missing"}
	}
	mt, params, _ := strings.Cut(cts[0], ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	switch mt {
	case "application/json", "application/x-ndjson":
		return nil
	case "application/vnd.elasticsearch+json", "application/vnd.elasticsearch+x-ndjson":
		for _, p := range strings.Split(params, ";") {
			k, v, _ := strings.Cut(p, "=")
			if strings.TrimSpace(strings.ToLower(k)) == "compatible-with" {
				switch strings.TrimSpace(v) {
				case "7", "8":
					return nil
				}
				return newErr(http.StatusBadRequest, "media_type_header_exception", "Invalid media-type value on headers [Content-Type]")
			}
		}
		return nil
	case "application/smile", "application/cbor", "application/yaml",
		"application/vnd.elasticsearch+smile", "application/vnd.elasticsearch+cbor", "application/vnd.elasticsearch+yaml":
		return errNotEmulated("the " + mt + " content type")
	}
	return &esError{status: http.StatusNotAcceptable, simple: true,
		reason: fmt.Sprintf("Content-Type header [%s] is not supported", strings.Join(cts, ","))}
}

// globalParams are accepted by every endpoint.
var globalParams = map[string]bool{
	"pretty": true, "human": true, "error_trace": true, "filter_path": true,
	"source": true, "source_content_type": true,
}

func checkParams(rq *request, allowed map[string]bool) *esError {
	var bad []string
	for name := range rq.query {
		if !globalParams[name] && !allowed[name] {
			bad = append(bad, name)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	return errUnrecognizedParams(rq.path, bad)
}

// writeResponse writes a handler's answer: an *esError, an allowHeader or
// withAllow, or any value appendAny knows.
func writeResponse(w http.ResponseWriter, r *http.Request, rq *request, status int, body any) {
	h := w.Header()
	h.Set("X-Elastic-Product", "Elasticsearch")
	ct := "application/json"
	if accept := r.Header.Get("Accept"); strings.Contains(accept, "vnd.elasticsearch+json") {
		ct = "application/vnd.elasticsearch+json;compatible-with=8"
	}
	switch b := body.(type) {
	case *esError:
		status, body = b.status, b.response()
	case withAllow:
		h.Set("Allow", b.allow)
		status, body = b.err.status, b.err.response()
	case allowHeader:
		h.Set("Allow", string(b))
		h.Set("Content-Length", "0")
		w.WriteHeader(status)
		return
	}
	if body == nil {
		h.Set("Content-Type", ct)
		h.Set("Content-Length", "0")
		w.WriteHeader(status)
		return
	}
	var out []byte
	if b, ok := body.(raw); ok {
		out = b
	} else {
		out = appendAny(make([]byte, 0, 256), body)
	}
	if rq != nil {
		if fp, ok := rq.param("filter_path"); ok && fp != "" {
			out = filterPath(out, fp)
		}
		if pretty, _ := rq.boolParam("pretty", false); pretty {
			var buf bytes.Buffer
			if json.Indent(&buf, out, "", "  ") == nil {
				buf.WriteByte('\n')
				out = buf.Bytes()
			}
		}
	}
	h.Set("Content-Type", ct)
	h.Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(out)
	}
}

// handler serves one method of an endpoint.
type handler struct {
	fn     func(s *Server, rq *request) (int, any)
	params map[string]bool
	noBody bool
}

// endpoint is a path of the REST API and its methods.
type endpoint struct {
	methods map[string]handler
}

func params(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

func (s *Server) info(rq *request) (int, any) {
	return http.StatusOK, obj{
		{"name", nodeName},
		{"cluster_name", clusterName},
		{"cluster_uuid", s.clusterUUID},
		{"version", obj{
			{"number", Version},
			{"build_flavor", "default"},
			{"build_type", "docker"},
			{"build_hash", "1a77947f34deddb41af25e6f0ddb8e830159c179"},
			{"build_date", "2024-08-05T10:05:34.233336849Z"},
			{"build_snapshot", false},
			{"lucene_version", luceneVersion},
			{"minimum_wire_compatibility_version", "7.17.0"},
			{"minimum_index_compatibility_version", "7.0.0"},
		}},
		{"tagline", "You Know, for Search"},
	}
}

// randomID returns n characters of URL-safe base64, the alphabet of
// Elasticsearch's generated ids and uuids.
func randomID(n int) string {
	b := make([]byte, (n*6+7)/8)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}
