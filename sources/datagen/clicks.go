package datagen

import (
	"cmp"
	"slices"
	"strconv"
)

// The clicks timeline (see "The clicks schedule" in the package doc).
const (
	clickFrameMs  = 150 * 1000 // a frame of the timeline
	clickCycle    = 6          // frames after which the active users repeat
	clickMin      = 3          // the fewest clicks of a burst
	clickMax      = 15         // the most
	clickPair     = clickMin + clickMax
	clickGapMinMs = 1000 // between clicks of a burst
	clickGapMaxMs = 10 * 1000

	clickDelayPct = 2        // of the clicks are emitted late...
	clickDelayMs  = 5 * 1000 // ...by up to 5 s
)

var (
	// landings are the pages a burst starts on.
	landings = newChoice(option{"/", 45}, option{"/blog", 25}, option{"/docs", 15}, option{"/pricing", 15})
	// actions are those of the clicks after the first of a burst; the
	// first is a "view", actions.names[0], the zero click.action.
	actions = newChoice(option{"view", 60}, option{"click", 28}, option{"add_to_cart", 9}, option{"buy", 3})
)

// click is one click of a frame.
type click struct {
	at     int32 // ms since the start of the frame
	emit   int32 // when it is emitted: at, or later for a delayed click
	user   int32
	k      uint8 // its index in the user's burst
	page   uint8 // index in landings for k == 0, else in pages
	action uint8
}

// clickSchedule maps record indexes to the clicks of the users' bursts.
type clickSchedule struct {
	g *generator
	// pattern of user u: it is active in the frames f with
	// f%period == phase; pattern[u] = period<<4 | phase.
	pattern []uint8
	// cum[r]: clicks in the frames of a cycle before its frame r.
	cum [clickCycle + 1]int64

	// The frame cached: its records are first..first+len(clicks)-1.
	frame  int64
	first  int64
	clicks []click
	active []int32 // scratch
}

func newClickSchedule(g *generator) *clickSchedule {
	s := &clickSchedule{g: g, pattern: make([]uint8, g.keys), first: -1}
	var active [clickCycle]int64
	for u := range g.keys {
		r := g.rng(tagUser, uint64(u), 0)
		period := 2 + r.intn(2)
		phase := r.intn(period)
		s.pattern[u] = uint8(period<<4 | phase)
		for f := range clickCycle {
			if f%period == phase {
				active[f]++
			}
		}
	}
	for f, n := range active {
		// Bursts pair up to clickPair clicks; one left over has the mean.
		s.cum[f+1] = s.cum[f] + n*clickPair/2
	}
	return s
}

// locate returns the frame of record i and the index of the frame's first
// record.
func (s *clickSchedule) locate(i int64) (frame, first int64) {
	perCycle := s.cum[clickCycle] // > 0: every user is active in a cycle
	cycle, rem := i/perCycle, i%perCycle
	r := 0
	for s.cum[r+1] <= rem {
		r++
	}
	return cycle*clickCycle + int64(r), cycle*perCycle + s.cum[r]
}

// build computes the clicks of frame f, in record order: by the time they
// are emitted, then by event time, user and index in the burst.
func (s *clickSchedule) build(f int64) {
	g := s.g
	s.active = s.active[:0]
	for u, p := range s.pattern {
		if f%int64(p>>4) == int64(p&0xf) {
			s.active = append(s.active, int32(u))
		}
	}
	s.clicks = s.clicks[:0]
	for j := 0; j < len(s.active); j += 2 {
		if j+1 == len(s.active) {
			s.burst(f, s.active[j], clickPair/2)
			break
		}
		r := g.rng(tagPair, uint64(f), uint64(j))
		n := clickMin + r.intn(clickMax-clickMin+1)
		s.burst(f, s.active[j], n)
		s.burst(f, s.active[j+1], clickPair-n)
	}
	slices.SortFunc(s.clicks, func(a, b click) int {
		if c := cmp.Compare(a.emit, b.emit); c != 0 {
			return c
		}
		if c := cmp.Compare(a.at, b.at); c != 0 {
			return c
		}
		if c := cmp.Compare(a.user, b.user); c != 0 {
			return c
		}
		return cmp.Compare(a.k, b.k)
	})
	s.frame = f
}

// burst appends the n clicks of user u in frame f.
func (s *clickSchedule) burst(f int64, u int32, n int) {
	r := s.g.rng(tagBurst, uint64(f), uint64(u))
	var gaps [clickMax - 1]int32
	dur := 0
	for k := range n - 1 {
		gap := clickGapMinMs + r.intn(clickGapMaxMs-clickGapMinMs+1)
		gaps[k] = int32(gap)
		dur += gap
	}
	at := int32(r.intn(clickFrameMs - dur)) // the last click is in the frame
	for k := range n {
		if k > 0 {
			at += gaps[k-1]
		}
		c := click{at: at, emit: at, user: u, k: uint8(k)}
		if r.intn(100) < clickDelayPct { // emitted late, within the frame
			c.emit = min(at+1+int32(r.intn(clickDelayMs)), clickFrameMs-1)
		}
		if k == 0 { // a burst starts with a view of a landing page
			c.page = uint8(landings.pick(&r))
		} else {
			c.page = uint8(pages.pick(&r))
			c.action = uint8(actions.pick(&r))
		}
		s.clicks = append(s.clicks, c)
	}
}

// click generates record i of the clicks preset.
func (s *clickSchedule) click(buf []byte, i int64) ([]byte, int, int64) {
	if i < s.first || i >= s.first+int64(len(s.clicks)) {
		f, first := s.locate(i)
		s.build(f)
		s.first = first
	}
	c := s.clicks[i-s.first]
	ts := s.g.startMs + s.frame*clickFrameMs + int64(c.at)
	page := pages.names[c.page]
	if c.k == 0 {
		page = landings.names[c.page]
	}

	start := len(buf)
	buf = append(buf, "user-"...)
	buf = strconv.AppendInt(buf, int64(c.user), 10)
	keyLen := len(buf) - start
	buf = append(buf, `{"user":"`...)
	buf = append(buf, buf[start:start+keyLen]...)
	buf = append(buf, `","page":"`...)
	buf = append(buf, page...)
	buf = append(buf, `","ts":`...)
	buf = strconv.AppendInt(buf, ts, 10)
	buf = append(buf, `,"action":"`...)
	buf = append(buf, actions.names[c.action]...)
	buf = append(buf, `"}`...)
	return buf, keyLen, ts
}
