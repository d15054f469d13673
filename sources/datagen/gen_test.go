package datagen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/runnel-io/runnel/connect"
)

// decodeStrict decodes a record value into v, refusing unknown fields,
// and checks that the value is compact JSON.
func decodeStrict(t *testing.T, r *connect.Record, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(r.Value))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("record %d: %s: %v", r.Pos.Offset, r.Value, err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, r.Value); err != nil || !bytes.Equal(compact.Bytes(), r.Value) {
		t.Fatalf("record %d: %s is not compact JSON", r.Pos.Offset, r.Value)
	}
	if len(r.Headers) != 0 {
		t.Fatalf("record %d has headers %v", r.Pos.Offset, r.Headers)
	}
}

// within fails unless got/n is in [lo, hi].
func within(t *testing.T, what string, got, n int, lo, hi float64) {
	t.Helper()
	if f := float64(got) / float64(n); f < lo || f > hi {
		t.Errorf("%s: %d of %d (%.2f%%), want %.1f%% to %.1f%%", what, got, n, 100*f, 100*lo, 100*hi)
	}
}

var startMs = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC).UnixMilli()

func TestPageviews(t *testing.T) {
	t.Parallel()
	const n = 10000
	recs := generateN(t, Config{Preset: PresetPageviews}, 0, n)
	var pv struct {
		User     string `json:"user"`
		Page     string `json:"page"`
		TS       *int64 `json:"ts"`
		Referrer string `json:"referrer"`
		OnPage   *int   `json:"ms_on_page"`
	}
	pageCount := map[string]int{}
	refs := map[string]bool{}
	users := map[string]bool{}
	late, disordered := 0, 0
	maxTS := int64(0)
	for i, r := range recs {
		pv.TS, pv.OnPage = nil, nil
		decodeStrict(t, r, &pv)
		if pv.TS == nil || pv.OnPage == nil || pv.Page == "" || pv.Referrer == "" {
			t.Fatalf("record %d: %s misses a field", i, r.Value)
		}
		if string(r.Key) != pv.User || *pv.TS != r.Time {
			t.Fatalf("record %d: key %s time %d, value %s", i, r.Key, r.Time, r.Value)
		}
		if *pv.OnPage < 1000 || *pv.OnPage > 90401 {
			t.Fatalf("record %d: ms_on_page %d", i, *pv.OnPage)
		}
		pageCount[pv.Page]++
		refs[pv.Referrer] = true
		users[pv.User] = true
		base := startMs + int64(i)*100
		switch d := base - r.Time; {
		case d == 0:
		case d == 2*60*1000:
			late++
		case d > 0 && d <= 20*1000:
			disordered++
		default:
			t.Fatalf("record %d: ts %d is %d ms before Start+i*Interval", i, r.Time, d)
		}
		if r.Time < maxTS-60*1000 && d(base, r.Time) != 2*60*1000 {
			t.Fatalf("record %d: late but not by the two minutes of late records", i)
		}
		maxTS = max(maxTS, r.Time)
	}
	within(t, "late records", late, n, 0.005, 0.016)
	within(t, "out-of-order records", disordered, n, 0.035, 0.065)
	if len(pageCount) != 6 || len(refs) != 5 || len(users) != DefaultKeys {
		t.Fatalf("%d pages, %d referrers, %d users; want 6, 5 and %d", len(pageCount), len(refs), len(users), DefaultKeys)
	}
	// Skewed: the home page is viewed far more than the signup page.
	if pageCount["/"] < 3*pageCount["/signup"] {
		t.Fatalf("pages not skewed: %v", pageCount)
	}
	for page := range pageCount {
		if !slices.Contains(pages.names, page) {
			t.Fatalf("unknown page %q", page)
		}
	}
}

func d(a, b int64) int64 { return a - b }

var amount = regexp.MustCompile(`"amount":(\d+)\.(\d\d),`)

func TestOrders(t *testing.T) {
	t.Parallel()
	const n = 10000
	recs := generateN(t, Config{Preset: PresetOrders, Interval: time.Second}, 0, n)
	var o struct {
		OrderID  string   `json:"order_id"`
		Customer string   `json:"customer"`
		Amount   *float64 `json:"amount"`
		Currency string   `json:"currency"`
		Country  string   `json:"country"`
		TS       *int64   `json:"ts"`
	}
	want := map[string]string{"US": "USD", "GB": "GBP", "DE": "EUR", "FR": "EUR", "ES": "EUR", "IT": "EUR", "NL": "EUR", "IE": "EUR"}
	countryOf := map[string]string{}
	under100, over500, disordered := 0, 0, 0
	for i, r := range recs {
		o.Amount, o.TS = nil, nil
		decodeStrict(t, r, &o)
		if o.Amount == nil || o.TS == nil {
			t.Fatalf("record %d: %s misses a field", i, r.Value)
		}
		if string(r.Key) != o.Customer || *o.TS != r.Time || o.OrderID != fmt.Sprintf("o-%d", i) {
			t.Fatalf("record %d: key %s time %d, value %s", i, r.Key, r.Time, r.Value)
		}
		if !amount.Match(r.Value) || *o.Amount < 1 || *o.Amount > 2000 {
			t.Fatalf("record %d: amount in %s not 1.00 to 2000.00 with two decimals", i, r.Value)
		}
		if *o.Amount < 100 {
			under100++
		}
		if *o.Amount >= 500 {
			over500++
		}
		if want[o.Country] != o.Currency {
			t.Fatalf("record %d: country %q with currency %q", i, o.Country, o.Currency)
		}
		if c, ok := countryOf[o.Customer]; ok && c != o.Country {
			t.Fatalf("record %d: customer %s in %s and %s", i, o.Customer, c, o.Country)
		}
		countryOf[o.Customer] = o.Country
		switch d := startMs + int64(i)*1000 - r.Time; {
		case d == 0:
		case d > 0 && d <= 10*1000:
			disordered++
		default:
			t.Fatalf("record %d: ts %d is %d ms before Start+i*Interval", i, r.Time, d)
		}
	}
	within(t, "orders under 100", under100, n, 0.75, 0.85)
	within(t, "orders of 500 or more", over500, n, 0.015, 0.05)
	within(t, "out-of-order orders", disordered, n, 0.01, 0.03)
	if len(countryOf) != DefaultKeys {
		t.Fatalf("%d customers, want %d", len(countryOf), DefaultKeys)
	}
}

func TestIntervalBelowAMillisecond(t *testing.T) {
	t.Parallel()
	g := newGenerator(Config{Preset: PresetOrders, Interval: 300 * time.Microsecond}.withDefaults())
	for _, tc := range []struct{ i, want int64 }{{0, 0}, {3, 0}, {4, 1}, {10, 3}, {1 << 40, (1 << 40) * 3 / 10}} {
		if got := g.baseTime(tc.i) - startMs; got != tc.want {
			t.Errorf("record %d at Start+%d ms, want +%d", tc.i, got, tc.want)
		}
	}
}

func TestClicksSessions(t *testing.T) {
	t.Parallel()
	for _, keys := range []int{DefaultKeys, 37} {
		t.Run(fmt.Sprint(keys), func(t *testing.T) {
			t.Parallel()
			// About 12 bursts per user.
			n := int64(keys) * 110
			recs := generateN(t, Config{Preset: PresetClicks, Keys: keys}, 0, n)
			var c struct {
				User   string `json:"user"`
				Page   string `json:"page"`
				TS     *int64 `json:"ts"`
				Action string `json:"action"`
			}
			byUser := map[string][]int64{}
			actionCount := map[string]int{}
			maxTS, disordered := startMs, 0
			for i, r := range recs {
				c.TS = nil
				decodeStrict(t, r, &c)
				if c.TS == nil || c.Page == "" || !slices.Contains(actions.names, c.Action) || !slices.Contains(pages.names, c.Page) {
					t.Fatalf("record %d: %s", i, r.Value)
				}
				if string(r.Key) != c.User || *c.TS != r.Time {
					t.Fatalf("record %d: key %s time %d, value %s", i, r.Key, r.Time, r.Value)
				}
				actionCount[c.Action]++
				if r.Time < maxTS {
					if maxTS-r.Time > 5000 {
						t.Fatalf("record %d: %d ms out of order", i, maxTS-r.Time)
					}
					disordered++
				}
				maxTS = max(maxTS, r.Time)
				byUser[c.User] = append(byUser[c.User], r.Time)
			}
			within(t, "out-of-order clicks", disordered, int(n), 0.01, 0.03)
			if actionCount["view"] < 2*actionCount["click"] || actionCount["buy"] == 0 || actionCount["buy"]*2 > actionCount["add_to_cart"] {
				t.Errorf("actions %v", actionCount)
			}
			if len(byUser) != keys {
				t.Fatalf("%d users clicked, want %d", len(byUser), keys)
			}
			// Each user's clicks, in event time, are bursts: a session
			// window with a gap of 11 s to 110 s finds them.
			bursts := 0
			for user, times := range byUser {
				slices.Sort(times)
				size := 1
				for k := 1; k < len(times); k++ {
					gap := times[k] - times[k-1]
					switch {
					case gap < 11*1000:
						size++
					case gap > 110*1000:
						if size < clickMin || size > clickMax { // not the last: n may cut it
							t.Fatalf("%s: burst of %d clicks ending at %d", user, size, times[k-1])
						}
						size = 1
						bursts++
					default:
						t.Fatalf("%s: %d ms between clicks at %d and %d: neither within nor between sessions", user, gap, times[k-1], times[k])
					}
				}
			}
			if bursts < keys*10 {
				t.Fatalf("%d bursts for %d users", bursts, keys)
			}
		})
	}
}

// The schedule: every burst is 3 to 15 clicks 1 to 10 s apart, inside
// its frame; bursts of a user are 150 s to 10 minutes apart; delayed
// clicks are emitted up to 5 s late, within the frame; and each frame
// holds the number of clicks locate counts on.
func TestClickSchedule(t *testing.T) {
	t.Parallel()
	for _, keys := range []int{1, 2, 3, 7, 200} {
		g := newGenerator(Config{Preset: PresetClicks, Keys: keys, Seed: 42}.withDefaults())
		s := g.clicks
		last := map[int32]int64{} // user: time of its last click
		first := int64(0)
		for f := range int64(60) {
			r := f % clickCycle
			want := s.cum[r+1] - s.cum[r]
			if want > 0 {
				if lf, lfirst := s.locate(first); lf != f || lfirst != first {
					t.Fatalf("keys %d: record %d located in frame %d at %d, want %d at %d", keys, first, lf, lfirst, f, first)
				}
				if lf, lfirst := s.locate(first + want - 1); lf != f || lfirst != first {
					t.Fatalf("keys %d: record %d located in frame %d at %d, want %d at %d", keys, first+want-1, lf, lfirst, f, first)
				}
			}
			s.build(f)
			if int64(len(s.clicks)) != want {
				t.Fatalf("keys %d frame %d: %d clicks, want %d", keys, f, len(s.clicks), want)
			}
			size := map[int32]int{}
			byTime := slices.Clone(s.clicks)
			slices.SortFunc(byTime, func(a, b click) int { return int(a.at - b.at) })
			for k, c := range s.clicks {
				if k > 0 && c.emit < s.clicks[k-1].emit {
					t.Fatalf("keys %d frame %d: clicks not in emission order", keys, f)
				}
				if c.emit < c.at || c.emit > c.at+clickDelayMs || c.at < 0 || c.emit >= clickFrameMs {
					t.Fatalf("keys %d frame %d: click at %d emitted at %d", keys, f, c.at, c.emit)
				}
			}
			for _, c := range byTime {
				at := f*clickFrameMs + int64(c.at)
				if prev, ok := last[c.user]; ok {
					gap := at - prev
					if c.k == 0 && (gap <= clickFrameMs || gap >= 600*1000) || c.k > 0 && (gap < clickGapMinMs || gap > clickGapMaxMs) {
						t.Fatalf("keys %d frame %d: user %d click %d %d ms after its last", keys, f, c.user, c.k, gap)
					}
				}
				last[c.user] = at
				size[c.user]++
			}
			for u, n := range size {
				if n < clickMin || n > clickMax {
					t.Fatalf("keys %d frame %d: user %d made %d clicks", keys, f, u, n)
				}
			}
			first += want
		}
		if len(last) != keys {
			t.Fatalf("keys %d: %d users clicked in 60 frames", keys, len(last))
		}
	}
}
