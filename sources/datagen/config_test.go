package datagen

import (
	"math"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  Config
		errs []string // each must appear; none means valid
	}{
		{name: "minimal", cfg: Config{Preset: PresetOrders}},
		{name: "full", cfg: Config{Preset: PresetClicks, Count: 10, Rate: 2.5, Seed: -7, Start: "2020-01-02T03:04:05+01:00",
			Interval: time.Second, Keys: MaxKeys, MaxBatch: 10, OffsetsFile: "o.json"}},
		{name: "no preset", cfg: Config{}, errs: []string{`datagen source: preset: required (want "pageviews", "orders" or "clicks")`}},
		{name: "unknown preset", cfg: Config{Preset: "Orders"},
			errs: []string{`datagen source: preset: unknown preset "Orders" (want "pageviews", "orders" or "clicks")`}},
		{name: "count", cfg: Config{Preset: PresetOrders, Count: -1}, errs: []string{"datagen source: count: -1 must not be negative"}},
		{name: "rate", cfg: Config{Preset: PresetOrders, Rate: -0.5}, errs: []string{"datagen source: rate: -0.5 must be a finite number"}},
		{name: "rate inf", cfg: Config{Preset: PresetOrders, Rate: math.Inf(1)}, errs: []string{"datagen source: rate: +Inf"}},
		{name: "start", cfg: Config{Preset: PresetOrders, Start: "2026-11-21 09:00"},
			errs: []string{`datagen source: start: "2026-11-21 09:00" is not an RFC 3339 time such as "2026-11-21T09:00:00Z"`}},
		{name: "interval", cfg: Config{Preset: PresetOrders, Interval: -time.Second}, errs: []string{"datagen source: interval: -1s must not be negative"}},
		{name: "keys", cfg: Config{Preset: PresetOrders, Keys: -2}, errs: []string{"datagen source: keys: -2 must be between 1 and 1000000"}},
		{name: "too many keys", cfg: Config{Preset: PresetOrders, Keys: MaxKeys + 1}, errs: []string{"datagen source: keys: 1000001 must be between"}},
		{name: "max batch", cfg: Config{Preset: PresetOrders, MaxBatch: -3}, errs: []string{"datagen source: max_batch: -3 must not be negative"}},
		{name: "offsets dir", cfg: Config{Preset: PresetOrders, OffsetsFile: "dir/"}, errs: []string{`datagen source: offsets_file: "dir/" names a directory`}},
		{name: "all at once", cfg: Config{Preset: "x", Count: -1, MaxBatch: -1}, errs: []string{"preset:", "count:", "max_batch:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if len(tc.errs) == 0 {
				requireNoError(t, err)
				return
			}
			requireErrorContains(t, err, tc.errs...)
			if _, nerr := New(tc.cfg); nerr == nil || nerr.Error() != err.Error() {
				t.Fatalf("New: %v, want the Validate error", nerr)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	s, err := New(Config{Preset: PresetPageviews})
	requireNoError(t, err)
	want := Config{Preset: PresetPageviews, Seed: DefaultSeed, Interval: DefaultInterval,
		Keys: DefaultKeys, MaxBatch: DefaultMaxBatch}
	if s.cfg != want {
		t.Fatalf("config with defaults %+v, want %+v", s.cfg, want)
	}
	// Seed 0 is the default seed, 1.
	a := generateN(t, Config{Preset: PresetOrders}, 0, 50)
	b := generateN(t, Config{Preset: PresetOrders, Seed: 1}, 0, 50)
	for i := range a {
		if string(a[i].Value) != string(b[i].Value) {
			t.Fatalf("record %d: seed 0 gives %s, seed 1 %s", i, a[i].Value, b[i].Value)
		}
	}
}
