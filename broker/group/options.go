package group

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Options configure a Coordinator (and its Core). The zero value of a field
// means "use the default": call EnsureDefaults then Validate (New and
// NewCore do both). Names in the field docs are the Kafka broker configs
// that set them.
type Options struct {
	// MinSessionTimeout (group.min.session.timeout.ms) is the shortest
	// session timeout a member may ask for in JoinGroup; shorter ones get
	// INVALID_SESSION_TIMEOUT. Default 6s, Kafka's.
	MinSessionTimeout time.Duration
	// MaxSessionTimeout (group.max.session.timeout.ms) is the longest.
	// Default 30 minutes, Kafka's.
	MaxSessionTimeout time.Duration
	// InitialRebalanceDelay (group.initial.rebalance.delay.ms) is how long
	// the first rebalance of an empty group waits for more members, and
	// how much longer it waits each time one more arrives (up to the
	// rebalance timeout). Default 3s, Kafka's; NoInitialRebalanceDelay
	// turns it off, which tests want.
	InitialRebalanceDelay time.Duration
	// MaxMetadataBytes (offset.metadata.max.bytes) bounds the metadata
	// string of one committed offset; a longer one gets
	// OFFSET_METADATA_TOO_LARGE. Default 4096, Kafka's.
	MaxMetadataBytes int
	// NewMemberJoinTimeout is how long a new member may wait in its first
	// JoinGroup before it is dropped (Kafka's fixed 5 minutes). Default 5
	// minutes.
	NewMemberJoinTimeout time.Duration
	// Partitions is the number of partitions of __consumer_offsets; a
	// group's records go to partition PartitionFor(group, Partitions).
	// Coordinator.New sets it from Storage.Partitions; NewCore needs it.
	// Default 1.
	Partitions int

	// PartitionExists tells OffsetCommit, TxnOffsetCommit and OffsetDelete
	// which partitions exist; the others are answered
	// UNKNOWN_TOPIC_OR_PARTITION, as Kafka's API layer does. nil: all do.
	// It must be safe to call from the coordinator's goroutine.
	PartitionExists func(topic string, partition int32) bool

	// Logger receives rebalances, member removals, load progress and
	// storage errors. Default: discard.
	Logger *slog.Logger
	// Now is the driver's clock (the Core is given the time explicitly).
	// Default time.Now.
	Now func() time.Time
	// MemberID makes a new member id from a prefix (the client id, or the
	// group.instance.id of a static member). Default prefix + "-" + a
	// random UUID, as Kafka does. Tests inject a counter.
	MemberID func(prefix string) string
}

// NoInitialRebalanceDelay, as Options.InitialRebalanceDelay, completes the
// first rebalance of an empty group as soon as every member has joined
// (group.initial.rebalance.delay.ms=0).
const NoInitialRebalanceDelay time.Duration = -1

// Defaults, Kafka's.
const (
	DefaultMinSessionTimeout     = 6 * time.Second
	DefaultMaxSessionTimeout     = 30 * time.Minute
	DefaultInitialRebalanceDelay = 3 * time.Second
	DefaultMaxMetadataBytes      = 4096
	DefaultNewMemberJoinTimeout  = 5 * time.Minute
)

// EnsureDefaults fills zero fields with their defaults and returns o.
func (o *Options) EnsureDefaults() *Options {
	if o.MinSessionTimeout == 0 {
		o.MinSessionTimeout = DefaultMinSessionTimeout
	}
	if o.MaxSessionTimeout == 0 {
		o.MaxSessionTimeout = DefaultMaxSessionTimeout
	}
	if o.InitialRebalanceDelay == 0 {
		o.InitialRebalanceDelay = DefaultInitialRebalanceDelay
	}
	if o.MaxMetadataBytes == 0 {
		o.MaxMetadataBytes = DefaultMaxMetadataBytes
	}
	if o.NewMemberJoinTimeout == 0 {
		o.NewMemberJoinTimeout = DefaultNewMemberJoinTimeout
	}
	if o.Partitions == 0 {
		o.Partitions = 1
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MemberID == nil {
		o.MemberID = randomMemberID
	}
	return o
}

// Validate reports every out-of-range field at once.
func (o *Options) Validate() error {
	var b strings.Builder
	bad := func(format string, args ...any) { fmt.Fprintf(&b, "\n  "+format, args...) }
	if o.MinSessionTimeout < time.Millisecond {
		bad("group.min.session.timeout.ms = %v: must be at least 1ms", o.MinSessionTimeout)
	}
	if o.MaxSessionTimeout < o.MinSessionTimeout {
		bad("group.max.session.timeout.ms = %v: must not be below group.min.session.timeout.ms (%v)", o.MaxSessionTimeout, o.MinSessionTimeout)
	}
	if o.InitialRebalanceDelay < 0 && o.InitialRebalanceDelay != NoInitialRebalanceDelay {
		bad("group.initial.rebalance.delay.ms = %v: must not be negative", o.InitialRebalanceDelay)
	}
	if o.MaxMetadataBytes < 0 {
		bad("offset.metadata.max.bytes = %d: must not be negative", o.MaxMetadataBytes)
	}
	if o.NewMemberJoinTimeout < 0 {
		bad("new member join timeout = %v: must not be negative", o.NewMemberJoinTimeout)
	}
	if o.Partitions < 1 {
		bad("partitions of %s = %d: must be at least 1", TopicName, o.Partitions)
	}
	if b.Len() > 0 {
		return fmt.Errorf("broker/group: invalid options:%s", b.String())
	}
	return nil
}

// initialDelay is the resolved group.initial.rebalance.delay.ms.
func (o *Options) initialDelay() time.Duration {
	if o.InitialRebalanceDelay == NoInitialRebalanceDelay {
		return 0
	}
	return o.InitialRebalanceDelay
}

// randomMemberID is Kafka's member id: prefix-<random UUID>.
func randomMemberID(prefix string) string {
	var u [16]byte
	rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	h := hex.EncodeToString(u[:])
	return prefix + "-" + h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
