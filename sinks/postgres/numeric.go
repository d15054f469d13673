package postgres

// PostgreSQL's limits on numeric (NUMERIC_MAX_PRECISION and friends): 131072
// digits before the point, 16383 after.
const (
	numericMaxIntDigits  = 131072
	numericMaxFracDigits = 16383
)

// appendNumeric appends a numeric value in PostgreSQL's binary format,
// encoded straight from the decimal text of a JSON number: no big.Int on
// the way, and every digit kept. The format (all big-endian):
//
//	| ndigits int16 | weight int16 | sign uint16 | dscale uint16 | ndigits × digit int16 |
//
// digits are base 10000, the first one weighing 10000^weight; sign is
// 0x0000 (+), 0x4000 (-), 0xC000 (NaN), 0xD000 (+Infinity) or 0xF000
// (-Infinity); dscale is the count of decimal digits after the point.
//
// s is the decimal text (sign, digits, an optional fraction and
// exponent, as numericText accepts, or NaN, Infinity, -Infinity). ok is
// false when the value is beyond numeric's range.
func appendNumeric(buf []byte, s string) ([]byte, bool) {
	special := func(sign uint16) []byte {
		return append(buf, 0, 0, 0, 0, byte(sign>>8), byte(sign), 0, 0)
	}
	switch s {
	case "NaN":
		return special(0xC000), true
	case "Infinity":
		return special(0xD000), true
	case "-Infinity":
		return special(0xF000), true
	}
	neg := false
	if s[0] == '-' || s[0] == '+' {
		neg = s[0] == '-'
		s = s[1:]
	}
	// Split into digits and the position of the point among them.
	var digits [64]byte
	ds := digits[:0]
	point := -1
	i := 0
	for ; i < len(s) && s[i] != 'e' && s[i] != 'E'; i++ {
		if s[i] == '.' {
			point = len(ds)
			continue
		}
		ds = append(ds, s[i]-'0')
	}
	if point < 0 {
		point = len(ds)
	}
	if i < len(s) { // exponent
		i++
		eneg := false
		if s[i] == '-' || s[i] == '+' {
			eneg = s[i] == '-'
			i++
		}
		e := 0
		for ; i < len(s); i++ {
			if e > 1<<20 {
				return buf, false
			}
			e = e*10 + int(s[i]-'0')
		}
		if eneg {
			e = -e
		}
		point += e
	}
	dscale := max(len(ds)-point, 0)
	// Drop leading and trailing zero digits; the point stays where it is.
	for len(ds) > 0 && ds[0] == 0 {
		ds = ds[1:]
		point--
	}
	for len(ds) > 0 && ds[len(ds)-1] == 0 {
		ds = ds[:len(ds)-1]
	}
	if dscale > numericMaxFracDigits || (len(ds) > 0 && point > numericMaxIntDigits) {
		return buf, false
	}
	if len(ds) == 0 {
		return append(buf, 0, 0, 0, 0, 0, 0, byte(dscale>>8), byte(dscale)), true
	}
	// Digit j weighs 10^(point-1-j): it goes to the base-10000 digit of
	// weight floor((point-1-j)/4), times 10^((point-1-j) mod 4).
	weight := floorDiv(point-1, 4)
	ngroups := weight - floorDiv(point-len(ds), 4) + 1
	start := len(buf)
	buf = append(buf, make([]byte, 8+2*ngroups)...)
	out := buf[start:]
	out[0], out[1] = byte(ngroups>>8), byte(ngroups)
	out[2], out[3] = byte(uint16(weight)>>8), byte(weight)
	if neg {
		out[4] = 0x40
	}
	out[6], out[7] = byte(dscale>>8), byte(dscale)
	pow := [4]int{1, 10, 100, 1000}
	group, v := 0, 0
	for j, d := range ds {
		x := point - 1 - j
		if g := weight - floorDiv(x, 4); g != group {
			out[8+2*group], out[9+2*group] = byte(v>>8), byte(v)
			group, v = g, 0
		}
		v += int(d) * pow[x-4*floorDiv(x, 4)]
	}
	out[8+2*group], out[9+2*group] = byte(v>>8), byte(v)
	return buf, true
}

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
