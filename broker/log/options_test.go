package log

import (
	"reflect"
	"testing"
	"time"
)

// Config is the inverse of FromConfig.
func TestConfigRoundTrip(t *testing.T) {
	t.Parallel()
	for _, o := range []Options{
		*new(Options).EnsureDefaults(),
		*(&Options{SegmentBytes: 4096, RetentionMs: -1, RetentionBytes: 1 << 20, Compact: true, Delete: true,
			FlushMessages: 10, FlushMs: time.Second, LogAppendTime: true, DeleteRetentionMs: time.Minute}).EnsureDefaults(),
	} {
		cfg := o.Config()
		if len(cfg) != len(ConfigKeys) {
			t.Fatalf("Config has %d keys, ConfigKeys %d", len(cfg), len(ConfigKeys))
		}
		back, err := FromConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		back.Logger, back.Now, o.Logger, o.Now = nil, nil, nil, nil
		if !reflect.DeepEqual(back, o) {
			t.Fatalf("round trip:\n%+v\n%+v", back, o)
		}
	}
}
