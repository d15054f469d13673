package elasticsearch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/elastic/elastic-transport-go/v8/elastictransport"
	transportversion "github.com/elastic/elastic-transport-go/v8/elastictransport/version"
	"github.com/elastic/go-elasticsearch/v8/esapi"
)

// client carries the Sink's requests to the cluster. It is what
// elasticsearch.NewClient of go-elasticsearch builds, without its API
// surface: an elastictransport.Client (the nodes, round robin,
// credentials, retries with backoff) under the checks and headers the
// go-elasticsearch client adds to every request. The Sink does not
// import that package: it imports the typed API, ~860 packages that take
// minutes to compile, and its esapi.New links every endpoint (6 MB of
// the runnel binary); esapi requests are built on a client instead. It
// is safe for concurrent use.
type client struct {
	tp *elastictransport.Client
	// meta is the value of the x-elastic-client-meta header.
	meta string
	// compat sends the compatibility headers, as the go-elasticsearch
	// client does when ELASTIC_CLIENT_APIVERSIONING is true.
	compat bool
	// genuine is set by the first 2xx response that says it comes from
	// Elasticsearch (X-Elastic-Product); until then every 2xx response
	// is checked.
	genuine atomic.Bool
}

var _ esapi.Transport = (*client)(nil)

// Headers the go-elasticsearch client sends or reads.
const (
	headerClientMeta = "X-Elastic-Client-Meta"
	headerProduct    = "X-Elastic-Product"
	compatMediaType  = "application/vnd.elasticsearch+json;compatible-with=8"
	// envCompat turns the compatibility headers on.
	envCompat = "ELASTIC_CLIENT_APIVERSIONING"
)

// errNotElasticsearch is the go-elasticsearch client's error for a
// server whose 2xx responses do not say X-Elastic-Product: Elasticsearch.
var errNotElasticsearch = errors.New("the client noticed that the server is not Elasticsearch and we do not support this unknown product")

// newClient returns a client for cfg (with defaults), which retries on
// 429, 502, 503 and 504 and in transport, MaxRetries times, waiting
// backoff(attempt) before each retry.
func newClient(cfg Config, backoff func(attempt int) time.Duration) (*client, error) {
	urls := make([]*url.URL, 0, len(cfg.Addresses))
	for _, a := range cfg.Addresses {
		u, err := url.Parse(strings.TrimRight(a, "/"))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", fieldAddresses, err)
		}
		urls = append(urls, u)
	}
	// As go-elasticsearch does: credentials in the first address are
	// everyone's.
	user, password := cfg.Username, cfg.Password
	if u := urls[0].User; u != nil {
		user = u.Username()
		password, _ = u.Password()
	}
	opts := []elastictransport.Option{
		elastictransport.WithURLs(urls...),
		elastictransport.WithUserAgent(userAgent()),
		elastictransport.WithRetryOnStatus(429, 502, 503, 504),
		elastictransport.WithMaxRetries(cfg.MaxRetries),
		elastictransport.WithRetryBackoff(backoff),
	}
	switch {
	case cfg.APIKey != "":
		opts = append(opts, elastictransport.WithAPIKey(cfg.APIKey))
	case user != "" || password != "":
		opts = append(opts, elastictransport.WithBasicAuth(user, password))
	}
	if cfg.Transport != nil {
		opts = append(opts, elastictransport.WithTransport(cfg.Transport))
	}
	tp, err := elastictransport.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	compat, _ := strconv.ParseBool(os.Getenv(envCompat))
	return &client{tp: tp, meta: clientMeta(), compat: compat}, nil
}

// Perform sends req, with the headers of the go-elasticsearch client, and
// returns the response; a 2xx response from a server that does not say
// it is Elasticsearch is an error until one does. It implements
// esapi.Transport.
func (c *client) Perform(req *http.Request) (*http.Response, error) {
	if c.compat {
		if req.Body != nil {
			req.Header.Set("Content-Type", compatMediaType)
		}
		req.Header.Set("Accept", compatMediaType)
	}
	if m := req.Header.Get(headerClientMeta); m != "" {
		req.Header.Set(headerClientMeta, c.meta+","+m)
	} else {
		req.Header.Set(headerClientMeta, c.meta)
	}
	res, err := c.tp.Perform(req)
	if err != nil {
		return nil, err
	}
	if res.StatusCode >= 200 && res.StatusCode < 300 && !c.genuine.Load() {
		if res.Header.Get(headerProduct) != "Elasticsearch" {
			res.Body.Close()
			return nil, errNotElasticsearch
		}
		c.genuine.Store(true)
	}
	return res, nil
}

// Close closes the transport's connections, waiting for them as far as
// ctx allows. Later requests fail.
func (c *client) Close(ctx context.Context) error {
	return c.tp.Close(ctx)
}

// userAgent returns the User-Agent of go-elasticsearch:
// "go-elasticsearch/8.19.7 (linux amd64; Go 1.26.8)".
func userAgent() string {
	return "go-elasticsearch/" + esapi.Version + " (" + runtime.GOOS + " " + runtime.GOARCH + "; Go " + strings.TrimPrefix(runtime.Version(), "go") + ")"
}

// clientMeta returns the x-elastic-client-meta header of go-elasticsearch:
// the versions of the client, Go, the transport and the HTTP client
// ("es=8.19.7,go=1.26.8,t=8.9.0,hc=1.26.8").
func clientMeta() string {
	goVersion := metaVersion(runtime.Version())
	return "es=" + metaVersion(esapi.Version) + ",go=" + goVersion + ",t=" + metaVersion(transportversion.Transport) + ",hc=" + goVersion
}

// metaVersion returns version as the client-meta header writes it: its
// first run of digits and dots, with "p" when something follows
// ("go1.26.8" → "1.26.8", "8.20.0-SNAPSHOT" → "8.20.0p"), or "0.0p".
func metaVersion(version string) string {
	isNum := func(r rune) bool { return r == '.' || '0' <= r && r <= '9' }
	i := strings.IndexFunc(version, isNum)
	if i < 0 || strings.Contains(version, "devel") {
		return "0.0p"
	}
	v := version[i:]
	j := strings.IndexFunc(v, func(r rune) bool { return !isNum(r) })
	if j < 0 {
		return v
	}
	return v[:j] + "p"
}
