package esemu

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// The date formats the emulator knows. Fields mapped with another format
// accept what these accept.
const (
	defaultDateFormat = "strict_date_optional_time||epoch_millis"
	// slashDateFormat is the format of a field dynamic date detection maps
	// from a "2015/09/02"-style string.
	slashDateFormat = "yyyy/MM/dd HH:mm:ss||yyyy/MM/dd||epoch_millis"
)

func dateFormatName(m *mapping) string {
	if m.format != "" {
		return m.format
	}
	return defaultDateFormat
}

// precision is the smallest unit a parsed date string gave, for rounding
// up ("2024-01" rounded up is the last millisecond of January).
type precision int

const (
	pYear precision = iota
	pMonth
	pDay
	pHour
	pMinute
	pSecond
	pMilli
)

// parseStrictDateOptionalTime parses the strict_date_optional_time format:
// yyyy[-MM[-dd['T'HH[:mm[:ss[.SSSSSSSSS]]][zone]]]], the zone being Z or
// an offset (+01:00, +0100, +01). It returns epoch millis.
func parseStrictDateOptionalTime(s string) (int64, bool) {
	t, _, ok := parseISODate(s)
	if !ok {
		return 0, false
	}
	return t.UnixMilli(), true
}

func parseISODate(s string) (time.Time, precision, bool) {
	p := 0
	num := func(n int) (int, bool) {
		if p+n > len(s) {
			return 0, false
		}
		v := 0
		for i := 0; i < n; i++ {
			c := s[p+i]
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		p += n
		return v, true
	}
	lit := func(c byte) bool {
		if p < len(s) && s[p] == c {
			p++
			return true
		}
		return false
	}
	year, ok := num(4)
	if !ok {
		return time.Time{}, 0, false
	}
	month, day, hour, minute, sec, nanos := 1, 1, 0, 0, 0, 0
	prec := pYear
	loc := time.UTC
	if lit('-') {
		if month, ok = num(2); !ok {
			return time.Time{}, 0, false
		}
		prec = pMonth
		if lit('-') {
			if day, ok = num(2); !ok {
				return time.Time{}, 0, false
			}
			prec = pDay
			if lit('T') {
				if hour, ok = num(2); !ok {
					return time.Time{}, 0, false
				}
				prec = pHour
				if lit(':') {
					if minute, ok = num(2); !ok {
						return time.Time{}, 0, false
					}
					prec = pMinute
					if lit(':') {
						if sec, ok = num(2); !ok {
							return time.Time{}, 0, false
						}
						prec = pSecond
						if lit('.') {
							start := p
							for p < len(s) && p-start < 9 && s[p] >= '0' && s[p] <= '9' {
								p++
							}
							if p == start {
								return time.Time{}, 0, false
							}
							frac := s[start:p] + strings.Repeat("0", 9-(p-start))
							nanos, _ = strconv.Atoi(frac)
							prec = pMilli
						}
					}
				}
				if p < len(s) {
					l, ok := parseZone(s[p:])
					if !ok {
						return time.Time{}, 0, false
					}
					loc, p = l, len(s)
				}
			}
		}
	}
	if p != len(s) || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, 0, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nanos, loc)
	if t.Day() != day { // 2023-02-30
		return time.Time{}, 0, false
	}
	return t, prec, true
}

// parseZone parses Z, +HH:mm, +HHmm or +HH.
func parseZone(z string) (*time.Location, bool) {
	if z == "Z" {
		return time.UTC, true
	}
	if len(z) < 3 || (z[0] != '+' && z[0] != '-') {
		return nil, false
	}
	digits := strings.Replace(z[1:], ":", "", 1)
	if len(digits) != 2 && len(digits) != 4 {
		return nil, false
	}
	if len(z) == 6 && z[3] != ':' {
		return nil, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return nil, false
		}
	}
	h, _ := strconv.Atoi(digits[:2])
	m := 0
	if len(digits) == 4 {
		m, _ = strconv.Atoi(digits[2:])
	}
	if h > 18 || m > 59 {
		return nil, false
	}
	off := h*3600 + m*60
	if z[0] == '-' {
		off = -off
	}
	return time.FixedZone(z, off), true
}

// parseSlashDate parses yyyy/MM/dd and yyyy/MM/dd HH:mm:ss.
func parseSlashDate(s string) (int64, bool) {
	t, _, ok := parseSlash(s)
	if !ok {
		return 0, false
	}
	return t.UnixMilli(), true
}

func parseSlash(s string) (time.Time, precision, bool) {
	for _, layout := range []struct {
		l string
		p precision
	}{{"2006/01/02 15:04:05", pSecond}, {"2006/01/02", pDay}} {
		if t, err := time.Parse(layout.l, s); err == nil {
			return t, layout.p, true
		}
	}
	return time.Time{}, 0, false
}

// parseEpochMillis parses a number of milliseconds since the epoch, possibly
// with a fraction.
func parseEpochMillis(s string) (int64, bool) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 9e18 {
		return 0, false
	}
	if strings.ContainsAny(s, "eE") || strings.HasPrefix(s, "+") {
		return 0, false
	}
	return int64(f), true
}

// parseDateString parses a date string with the formats of the field m.
func parseDateString(m *mapping, s string) (time.Time, precision, bool) {
	if m == nil || m.format == "" {
		if t, p, ok := parseISODate(s); ok {
			return t, p, true
		}
		if n, ok := parseEpochMillis(s); ok {
			return time.UnixMilli(n).UTC(), pMilli, true
		}
		return time.Time{}, 0, false
	}
	formats := m.format
	known := false
	for _, f := range strings.Split(formats, "||") {
		switch f {
		case "strict_date_optional_time", "date_optional_time", "strict_date_optional_time_nanos",
			"strict_date_time", "date_time", "strict_date", "date", "yyyy-MM-dd", "iso8601":
			known = true
			if t, p, ok := parseISODate(s); ok {
				return t, p, true
			}
		case "yyyy/MM/dd HH:mm:ss", "yyyy/MM/dd":
			known = true
			if t, p, ok := parseSlash(s); ok {
				return t, p, true
			}
		case "epoch_millis":
			known = true
			if n, ok := parseEpochMillis(s); ok {
				return time.UnixMilli(n).UTC(), pMilli, true
			}
		case "epoch_second":
			known = true
			if n, ok := parseEpochMillis(s); ok && n < math.MaxInt64/1000 && n > math.MinInt64/1000 {
				return time.UnixMilli(n * 1000).UTC(), pSecond, true
			}
		}
	}
	if !known {
		// A custom format the emulator cannot read: accept what the default
		// accepts.
		if t, p, ok := parseISODate(s); ok {
			return t, p, true
		}
		if n, ok := parseEpochMillis(s); ok {
			return time.UnixMilli(n).UTC(), pMilli, true
		}
	}
	return time.Time{}, 0, false
}

// parseDateValue converts a source value of a date field to epoch millis.
func parseDateValue(m *mapping, v *value) (int64, bool) {
	switch v.kind {
	case kNum:
		f, err := strconv.ParseFloat(v.s, 64)
		if err != nil || math.Abs(f) > 9e18 {
			return 0, false
		}
		if strings.Contains(dateFormatName(m), "epoch_second") && !strings.Contains(dateFormatName(m), "epoch_millis") {
			return int64(f * 1000), true
		}
		return int64(f), true
	case kStr:
		t, _, ok := parseDateString(m, v.s)
		if !ok {
			return 0, false
		}
		return t.UnixMilli(), true
	}
	return 0, false
}

// parseDateMath parses a date of a query: a date string, epoch millis, or
// date math ("now-1d/d", "2024-01-01||+1M"). roundUp is for the upper
// bounds of ranges (lte, gt): a rounding or a partial date then means the
// last millisecond of its unit, as Elasticsearch documents.
func parseDateMath(m *mapping, s string, roundUp bool, now time.Time) (int64, bool) {
	var t time.Time
	var prec precision
	rest := ""
	switch {
	case strings.HasPrefix(s, "now"):
		t, prec, rest = now.UTC(), pMilli, s[3:]
	default:
		base := s
		if i := strings.Index(s, "||"); i >= 0 {
			base, rest = s[:i], s[i+2:]
		}
		var ok bool
		if t, prec, ok = parseDateString(m, base); !ok {
			return 0, false
		}
	}
	rounded := false
	for rest != "" {
		op := rest[0]
		rest = rest[1:]
		switch op {
		case '+', '-':
			i := 0
			for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
				i++
			}
			n := 1
			if i > 0 {
				var err error
				if n, err = strconv.Atoi(rest[:i]); err != nil {
					return 0, false
				}
			}
			if i >= len(rest) {
				return 0, false
			}
			unit := rest[i]
			rest = rest[i+1:]
			if op == '-' {
				n = -n
			}
			var ok bool
			if t, ok = addUnit(t, unit, n); !ok {
				return 0, false
			}
		case '/':
			if rest == "" {
				return 0, false
			}
			unit := rest[0]
			rest = rest[1:]
			var ok bool
			if t, ok = roundDown(t, unit); !ok {
				return 0, false
			}
			if roundUp {
				t, _ = addUnit(t, unit, 1)
				t = t.Add(-time.Millisecond)
			}
			rounded = true
		default:
			return 0, false
		}
	}
	if roundUp && !rounded && prec < pMilli {
		t = endOf(t, prec)
	}
	return t.UnixMilli(), true
}

func addUnit(t time.Time, unit byte, n int) (time.Time, bool) {
	switch unit {
	case 'y':
		return addMonths(t, 12*n), true
	case 'M':
		return addMonths(t, n), true
	case 'w':
		return t.AddDate(0, 0, 7*n), true
	case 'd':
		return t.AddDate(0, 0, n), true
	case 'h', 'H':
		return t.Add(time.Duration(n) * time.Hour), true
	case 'm':
		return t.Add(time.Duration(n) * time.Minute), true
	case 's':
		return t.Add(time.Duration(n) * time.Second), true
	}
	return t, false
}

// addMonths adds months as Java's plusMonths does: the day is clamped to
// the end of a shorter month (Jan 31 + 1M = Feb 29 in 2024).
func addMonths(t time.Time, n int) time.Time {
	y, m, d := t.Date()
	first := time.Date(y, m+time.Month(n), 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
	last := first.AddDate(0, 1, -1).Day()
	if d > last {
		d = last
	}
	return first.AddDate(0, 0, d-1)
}

func roundDown(t time.Time, unit byte) (time.Time, bool) {
	y, mo, d := t.Date()
	loc := t.Location()
	switch unit {
	case 'y':
		return time.Date(y, 1, 1, 0, 0, 0, 0, loc), true
	case 'M':
		return time.Date(y, mo, 1, 0, 0, 0, 0, loc), true
	case 'w':
		wd := (int(t.Weekday()) + 6) % 7 // weeks start on Monday
		return time.Date(y, mo, d-wd, 0, 0, 0, 0, loc), true
	case 'd':
		return time.Date(y, mo, d, 0, 0, 0, 0, loc), true
	case 'h', 'H':
		return t.Truncate(time.Hour), true
	case 'm':
		return t.Truncate(time.Minute), true
	case 's':
		return t.Truncate(time.Second), true
	}
	return t, false
}

// endOf is the last millisecond of the unit of precision p holding t.
func endOf(t time.Time, p precision) time.Time {
	units := map[precision]byte{pYear: 'y', pMonth: 'M', pDay: 'd', pHour: 'h', pMinute: 'm', pSecond: 's'}
	u, ok := units[p]
	if !ok {
		return t
	}
	t, _ = addUnit(t, u, 1)
	return t.Add(-time.Millisecond)
}
