package datagen

import (
	"context"
	"math"
	"time"
)

// maxWait bounds one wait of the pacer, so that a tiny Rate never makes a
// time.Duration overflow; the pacer checks the time again after it.
const maxWait = time.Hour

// pacer spreads records over wall-clock time at rate records per second:
// counting from an anchor time, record k is due at anchor + k/rate (the
// first one at once). A consumer slower than the rate does not get the
// records it missed in one burst: when more than a batch is due, the
// pacer hands out a batch and anchors again at the current time.
type pacer struct {
	rate float64
	// now and timer are the clock; tests replace them. timer returns a
	// channel receiving once after d and a func stopping it.
	now   func() time.Time
	timer func(d time.Duration) (<-chan time.Time, func() bool)

	anchored bool
	anchor   time.Time
	sent     int64 // records handed out since anchor
}

func newPacer(rate float64) pacer {
	return pacer{
		rate: rate,
		now:  time.Now,
		timer: func(d time.Duration) (<-chan time.Time, func() bool) {
			t := time.NewTimer(d)
			return t.C, t.Stop
		},
	}
}

// take waits until at least one record is due and returns how many are,
// at most limit (> 0). It returns ctx's error if ctx ends first.
func (p *pacer) take(ctx context.Context, limit int) (int, error) {
	for {
		now := p.now()
		if !p.anchored {
			p.anchor, p.sent, p.anchored = now, 0, true
		}
		elapsed := now.Sub(p.anchor).Seconds()
		due := math.Floor(elapsed*p.rate) + 1 - float64(p.sent)
		switch {
		case due > float64(limit): // behind: forget what was missed
			p.anchor, p.sent = now, 1
			return limit, nil
		case due >= 1:
			n := int(due)
			p.sent += int64(n)
			return n, nil
		}
		wait := maxWait
		if s := float64(p.sent)/p.rate - elapsed; s < maxWait.Seconds() {
			wait = max(time.Duration(s*float64(time.Second)), time.Microsecond)
		}
		c, stop := p.timer(wait)
		select {
		case <-ctx.Done():
			stop()
			return 0, ctx.Err()
		case <-c:
		}
	}
}
