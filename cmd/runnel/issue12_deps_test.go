package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestIssue12Deps checks that the binary does not build packages it has
// no use for. The client package of go-elasticsearch imports the typed
// API: 858 of the 1189 packages of a cold build, and its NewClient linked
// every endpoint of esapi (the binary was 56 MB); the Elasticsearch sink
// builds its client from esapi and elastictransport instead. Sarama and
// kfake serve tests only.
func TestIssue12Deps(t *testing.T) {
	t.Parallel()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command: %v", err)
	}
	out, err := exec.Command(goBin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 100 {
		t.Fatalf("go list -deps listed %d packages: %q", len(deps), out)
	}
	var bad []string
	for _, p := range deps {
		switch {
		case p == "github.com/elastic/go-elasticsearch/v8",
			strings.HasPrefix(p, "github.com/elastic/go-elasticsearch/v8/typedapi"),
			strings.HasPrefix(p, "github.com/elastic/go-elasticsearch/v8/esutil"),
			strings.HasPrefix(p, "github.com/IBM/sarama"),
			strings.HasPrefix(p, "github.com/twmb/franz-go/pkg/kfake"):
			bad = append(bad, p)
		}
	}
	if len(bad) > 0 {
		t.Fatalf("runnel builds %d packages it should not, among them:\n%s", len(bad), strings.Join(bad[:min(len(bad), 10)], "\n"))
	}
}
