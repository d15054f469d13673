package elasticsearch

import (
	"context"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// recorder is a Transport that keeps the headers of the requests, and can
// drop X-Elastic-Product from the responses, as a server that is not
// Elasticsearch would.
type recorder struct {
	impostor bool
	mu       sync.Mutex
	reqs     []http.Header // with the path in ":path"
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	h := req.Header.Clone()
	h.Set(":path", req.URL.Path)
	r.mu.Lock()
	r.reqs = append(r.reqs, h)
	r.mu.Unlock()
	res, err := http.DefaultTransport.RoundTrip(req)
	if err == nil && r.impostor {
		res.Header.Del(headerProduct)
	}
	return res, err
}

func (r *recorder) requests() []http.Header {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]http.Header(nil), r.reqs...)
}

// writeOne opens task 0 of a Sink for cfg, and writes and commits a
// document.
func writeOne(t *testing.T, cfg Config) {
	t.Helper()
	s := newSink(t, cfg)
	openTask(t, s, 0)
	r := rec("t", 0, 0, "k", `{"v":1}`)
	write(t, s, 0, r)
	commit(t, s, cp(r))
}

// The headers of go-elasticsearch's client: the Sink sends them without
// it.
func TestClientHeaders(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	cfg := c.config()
	cfg.Index = c.index("kv")
	rt := &recorder{}
	cfg.Transport = rt
	writeOne(t, cfg)
	bulks := 0
	for _, h := range rt.requests() {
		if ua := h.Get("User-Agent"); !strings.HasPrefix(ua, "go-elasticsearch/8.") || !strings.Contains(ua, "; Go ") {
			t.Errorf("%s: User-Agent %q, want go-elasticsearch's", h.Get(":path"), ua)
		}
		meta := h.Get(headerClientMeta)
		if !strings.HasPrefix(meta, "es=8.") || !strings.Contains(meta, ",t=8.") {
			t.Errorf("%s: %s %q, want es=...,go=...,t=...,hc=...", h.Get(":path"), headerClientMeta, meta)
		}
		if strings.HasSuffix(h.Get(":path"), "/_bulk") && strings.HasSuffix(meta, ",h=bp") {
			bulks++
		}
		if c.emu != nil && h.Get("Authorization") != "" {
			t.Errorf("%s: Authorization %q without credentials", h.Get(":path"), h.Get("Authorization"))
		}
	}
	if bulks == 0 {
		t.Errorf("no bulk request with h=bp in %s: %v", headerClientMeta, rt.requests())
	}
}

func TestClientCredentials(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		setup    func(*Config)
		wantAuth string
	}{
		{"basic", func(c *Config) { c.Username, c.Password = "elastic", "pw" }, "Basic ZWxhc3RpYzpwdw=="},
		{"api key", func(c *Config) { c.APIKey = "aWQ6a2V5" }, "APIKey aWQ6a2V5"},
		{"in the address", func(c *Config) {
			c.Addresses[0] = strings.Replace(c.Addresses[0], "://", "://elastic:pw@", 1)
		}, "Basic ZWxhc3RpYzpwdw=="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newCluster(t)
			c.emulator() // which takes any credentials
			cfg := c.config()
			cfg.Index = c.index("kv")
			tc.setup(&cfg)
			rt := &recorder{}
			cfg.Transport = rt
			writeOne(t, cfg)
			for _, h := range rt.requests() {
				if got := h.Get("Authorization"); got != tc.wantAuth {
					t.Fatalf("%s: Authorization %q, want %q", h.Get(":path"), got, tc.wantAuth)
				}
			}
		})
	}
}

// A server whose successful responses do not say X-Elastic-Product:
// Elasticsearch is refused, as go-elasticsearch's client refuses it.
func TestProductCheck(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	cfg := c.config()
	cfg.Transport = &recorder{impostor: true}
	s := newSink(t, cfg)
	_, err := s.OpenTask(context.Background(), 0)
	requireErrorContains(t, err, "not Elasticsearch")
}

// ELASTIC_CLIENT_APIVERSIONING=true makes the requests ask for the
// compatibility media type, as with go-elasticsearch's client.
func TestClientCompatibility(t *testing.T) {
	t.Setenv(envCompat, "true")
	c := newCluster(t)
	cfg := c.config()
	cfg.Index = c.index("kv")
	rt := &recorder{}
	cfg.Transport = rt
	writeOne(t, cfg)
	for _, h := range rt.requests() {
		if got := h.Get("Accept"); got != compatMediaType {
			t.Fatalf("%s: Accept %q, want %q", h.Get(":path"), got, compatMediaType)
		}
	}
}

func TestMetaVersion(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"8.19.7":          "8.19.7",
		"go1.26.8":        "1.26.8",
		"go1.27rc1":       "1.27p",
		"8.20.0-SNAPSHOT": "8.20.0p",
		"devel go1.27-ab": "0.0p",
		"unknown":         "0.0p",
	} {
		if got := metaVersion(in); got != want {
			t.Errorf("metaVersion(%q) = %q, want %q", in, got, want)
		}
	}
	if got := clientMeta(); !strings.Contains(got, ",go="+metaVersion(runtime.Version())+",") {
		t.Errorf("clientMeta() = %q, no go version", got)
	}
}
