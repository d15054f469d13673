package store

import (
	"crypto/rand"
	"encoding"
	"encoding/base64"
	"fmt"
)

var (
	_ encoding.TextMarshaler   = UUID{}
	_ encoding.TextUnmarshaler = (*UUID)(nil)
	_ fmt.Stringer             = UUID{}
)

// UUID is a 16-byte identifier in Kafka's form: a cluster id or a topic id.
// Its text form is the 22-character unpadded URL-safe base64 that Kafka
// prints (kafka-storage.sh random-uuid, kafka-topics.sh --describe). The
// zero UUID is never assigned; Kafka reserves it for "no id".
type UUID [16]byte

// NewUUID returns a random version-4 UUID. Like Kafka's Uuid.randomUuid, it
// never returns the zero UUID and never one whose text starts with '-'
// (which a command line would take for a flag).
func NewUUID() UUID {
	for {
		var u UUID
		rand.Read(u[:]) // never fails (crypto/rand panics instead)
		u[6] = u[6]&0x0f | 0x40
		u[8] = u[8]&0x3f | 0x80
		if s := u.String(); s[0] != '-' {
			return u
		}
	}
}

// ParseUUID parses the text form of a UUID.
func ParseUUID(s string) (UUID, error) {
	var u UUID
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != len(u) {
		return u, fmt.Errorf("%q is not a UUID: want 22 characters of URL-safe base64", s)
	}
	copy(u[:], b)
	if u.IsZero() {
		return u, fmt.Errorf("%q is the zero UUID, which Kafka reserves", s)
	}
	return u, nil
}

// String returns the text form of u.
func (u UUID) String() string { return base64.RawURLEncoding.EncodeToString(u[:]) }

// IsZero reports whether u is the zero UUID.
func (u UUID) IsZero() bool { return u == UUID{} }

// MarshalText implements encoding.TextMarshaler.
func (u UUID) MarshalText() ([]byte, error) { return []byte(u.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (u *UUID) UnmarshalText(b []byte) error {
	v, err := ParseUUID(string(b))
	if err != nil {
		return err
	}
	*u = v
	return nil
}
