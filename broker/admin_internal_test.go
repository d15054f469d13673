package broker

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Clients may not create or delete the broker's internal topics.
func TestInternalTopicsAreProtected(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	ctx := ctxT(t)
	adm := kadm.NewClient(newClient(t, b))
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "__mine"); !errors.Is(err, kerr.InvalidTopicException) {
		t.Fatalf("create __mine: %v, want INVALID_TOPIC_EXCEPTION", err)
	}
	if _, err := adm.DeleteTopic(ctx, "__consumer_offsets"); !errors.Is(err, kerr.InvalidTopicException) {
		t.Fatalf("delete __consumer_offsets: %v, want INVALID_TOPIC_EXCEPTION", err)
	}
	if _, err := b.Store().Topic("__mine"); err == nil {
		t.Fatal("__mine was created")
	}
}
