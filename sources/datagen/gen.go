package datagen

import (
	"hash/fnv"
	"math/bits"
	"math/rand/v2"
	"strconv"
	"time"
)

// The generators are pure: record i is computed from (Seed, Preset, i)
// and the fields Start, Interval and Keys, never from a random stream
// carried from record to record, so that a source resuming at i
// regenerates the bytes a crashed one produced. Every random draw comes
// from a rand.PCG seeded for the one record (or the one burst of clicks)
// it decides, and is turned into a number by fixed integer arithmetic
// (no math/rand method whose algorithm may change, no floating point),
// so the records are also the same on every platform and Go release.

// Purposes of the random streams, so that the stream deciding record i
// and the one deciding, say, user i's country are unrelated.
const (
	tagRecord uint64 = iota + 1
	tagCountry
	tagUser
	tagPair
	tagBurst
)

// generator computes records. It is not safe for concurrent use (clicks
// caches a frame of its schedule).
type generator struct {
	preset  string
	seed    uint64 // from Config.Seed and Preset
	keys    int
	startMs int64
	// Interval, split: a record i is at startMs + i*stepMs + i*stepNs/1e6.
	stepMs, stepNs int64
	clicks         *clickSchedule // clicks only
}

// newGenerator returns the generator of a validated config with defaults;
// an empty Start is LegacyStart (the Source always sets it).
func newGenerator(cfg Config) *generator {
	if cfg.Start == "" {
		cfg.Start = LegacyStart
	}
	start, _ := time.Parse(time.RFC3339, cfg.Start) // validated
	h := fnv.New64a()
	h.Write([]byte(cfg.Preset))
	g := &generator{
		preset:  cfg.Preset,
		seed:    mix(uint64(cfg.Seed) ^ mix(h.Sum64())),
		keys:    cfg.Keys,
		startMs: start.UnixMilli(),
		stepMs:  int64(cfg.Interval / time.Millisecond),
		stepNs:  int64(cfg.Interval % time.Millisecond),
	}
	if cfg.Preset == PresetClicks {
		g.clicks = newClickSchedule(g)
	}
	return g
}

// appendRecord appends the key and then the value of record i to buf. It
// returns buf, the length of the key, and the record's event time (Unix
// ms).
func (g *generator) appendRecord(buf []byte, i int64) ([]byte, int, int64) {
	switch g.preset {
	case PresetPageviews:
		return g.pageview(buf, i)
	case PresetOrders:
		return g.order(buf, i)
	default:
		return g.clicks.click(buf, i)
	}
}

// baseTime returns Start + i*Interval in Unix ms, rounded down.
func (g *generator) baseTime(i int64) int64 {
	hi, lo := bits.Mul64(uint64(i), uint64(g.stepNs))
	sub, _ := bits.Div64(hi, lo, uint64(time.Millisecond)) // hi < 1e6: no overflow
	return g.startMs + i*g.stepMs + int64(sub)
}

// Pageviews: out of order and late records.
const (
	pageviewLateMs     = 2 * 60 * 1000 // 1%: two minutes early
	pageviewDisorderMs = 20 * 1000     // 5%: up to 20 s early
)

var (
	pages = newChoice(
		option{"/", 30}, option{"/docs", 22}, option{"/pricing", 16},
		option{"/docs/quickstart", 14}, option{"/blog", 11}, option{"/signup", 7})
	referrers = newChoice(
		option{"direct", 40}, option{"google", 30}, option{"github", 12},
		option{"twitter", 10}, option{"newsletter", 8})
)

// pageview generates record i of the pageviews preset.
func (g *generator) pageview(buf []byte, i int64) ([]byte, int, int64) {
	r := g.rng(tagRecord, uint64(i), 0)
	user := r.intn(g.keys)
	page := pages.pick(&r)
	ref := referrers.pick(&r)
	onPage := 1000 + r.intn(300)*r.intn(300) // 1 s to 90 s, mostly short
	ts := g.baseTime(i)
	switch d := r.intn(100); {
	case d == 0:
		ts -= pageviewLateMs
	case d <= 5:
		ts -= 1 + int64(r.intn(pageviewDisorderMs))
	}

	start := len(buf)
	buf = append(buf, "user-"...)
	buf = strconv.AppendInt(buf, int64(user), 10)
	keyLen := len(buf) - start
	buf = append(buf, `{"user":"`...)
	buf = append(buf, buf[start:start+keyLen]...)
	buf = append(buf, `","page":"`...)
	buf = append(buf, pages.names[page]...)
	buf = append(buf, `","ts":`...)
	buf = strconv.AppendInt(buf, ts, 10)
	buf = append(buf, `,"referrer":"`...)
	buf = append(buf, referrers.names[ref]...)
	buf = append(buf, `","ms_on_page":`...)
	buf = strconv.AppendInt(buf, int64(onPage), 10)
	buf = append(buf, '}')
	return buf, keyLen, ts
}

// Orders: out of order records.
const (
	orderDisorderPct = 2
	orderDisorderMs  = 10 * 1000
)

// countries of customers, with their currencies.
var (
	countries = newChoice(
		option{"US", 28}, option{"DE", 16}, option{"GB", 14}, option{"FR", 14},
		option{"ES", 9}, option{"IT", 8}, option{"NL", 7}, option{"IE", 4})
	currencies = map[string]string{
		"US": "USD", "GB": "GBP",
		"DE": "EUR", "FR": "EUR", "ES": "EUR", "IT": "EUR", "NL": "EUR", "IE": "EUR",
	}
	countryCurrency = func() []string {
		out := make([]string, len(countries.names))
		for i, c := range countries.names {
			out[i] = currencies[c]
		}
		return out
	}()
)

// order generates record i of the orders preset.
func (g *generator) order(buf []byte, i int64) ([]byte, int, int64) {
	r := g.rng(tagRecord, uint64(i), 0)
	cust := r.intn(g.keys)
	var cents int
	switch tier := r.intn(100); {
	case tier < 80: // 1.00 to 99.01, mostly small
		cents = 100 + r.intn(100)*r.intn(100)
	case tier < 97: // 100.00 to 499.99
		cents = 10000 + r.intn(40000)
	default: // 500.00 to 2000.00
		cents = 50000 + r.intn(150001)
	}
	ts := g.baseTime(i)
	if r.intn(100) < orderDisorderPct {
		ts -= 1 + int64(r.intn(orderDisorderMs))
	}
	// A customer lives in one country.
	cr := g.rng(tagCountry, uint64(cust), 0)
	country := countries.pick(&cr)

	start := len(buf)
	buf = append(buf, "cust-"...)
	buf = strconv.AppendInt(buf, int64(cust), 10)
	keyLen := len(buf) - start
	buf = append(buf, `{"order_id":"o-`...)
	buf = strconv.AppendInt(buf, i, 10)
	buf = append(buf, `","customer":"`...)
	buf = append(buf, buf[start:start+keyLen]...)
	buf = append(buf, `","amount":`...)
	buf = strconv.AppendInt(buf, int64(cents/100), 10)
	buf = append(buf, '.', byte('0'+cents/10%10), byte('0'+cents%10))
	buf = append(buf, `,"currency":"`...)
	buf = append(buf, countryCurrency[country]...)
	buf = append(buf, `","country":"`...)
	buf = append(buf, countries.names[country]...)
	buf = append(buf, `","ts":`...)
	buf = strconv.AppendInt(buf, ts, 10)
	buf = append(buf, '}')
	return buf, keyLen, ts
}

// rng returns the random stream of one decision: tag says which kind,
// a and b which one (record i; frame f and user u).
func (g *generator) rng(tag, a, b uint64) rng {
	var r rng
	r.p.Seed(mix(g.seed^tag*0x9e3779b97f4a7c15), mix(mix(a)^b))
	return r
}

// rng draws numbers from a PCG by integer arithmetic alone.
type rng struct{ p rand.PCG }

// intn returns a number in [0, n), n > 0 (Lemire's multiply-shift, with
// its negligible bias).
func (r *rng) intn(n int) int {
	hi, _ := bits.Mul64(r.p.Uint64(), uint64(n))
	return int(hi)
}

// mix is the SplitMix64 finalizer: a bijection scrambling the bits of x.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// option is a value of a choice and its relative weight.
type option struct {
	name   string
	weight int
}

// choice picks one of a fixed list of names with skewed probabilities.
type choice struct {
	names []string
	cum   []int // cum[k]: the sum of the weights of names[:k+1]
}

func newChoice(opts ...option) choice {
	var c choice
	total := 0
	for _, o := range opts {
		total += o.weight
		c.names = append(c.names, o.name)
		c.cum = append(c.cum, total)
	}
	return c
}

// pick returns the index of a name.
func (c *choice) pick(r *rng) int {
	x := r.intn(c.cum[len(c.cum)-1])
	for k, w := range c.cum {
		if x < w {
			return k
		}
	}
	panic("unreachable")
}
