package esemu

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// analyze approximates the standard analyzer of a text field: the Unicode
// word-break rules (UAX #29) of the standard tokenizer for the common
// cases, then lowercasing. "Hello, World's e-mail.address 3.14" gives
// hello, world's, e, mail.address, 3.14.
func analyze(s string) []string {
	var toks []string
	rs := []rune(s)
	isWord := func(r rune) bool {
		return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || r == '_'
	}
	ideographic := func(r rune) bool {
		return unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r)
	}
	start := -1
	flush := func(end int) {
		if start >= 0 {
			toks = append(toks, strings.ToLower(string(rs[start:end])))
			start = -1
		}
	}
	for i, r := range rs {
		switch {
		case ideographic(r):
			flush(i)
			toks = append(toks, string(r))
		case isWord(r):
			if start < 0 {
				start = i
			}
		case start >= 0 && i+1 < len(rs) && joins(rs[i-1], r, rs[i+1]):
			// a mid-word character: keep the token going
		default:
			flush(i)
		}
	}
	flush(len(rs))
	return toks
}

// joins reports whether mid, between prev and next, stays inside a word:
// '.' and '\” between letters or digits, ':' between letters, ',' and ';'
// between digits.
func joins(prev, mid, next rune) bool {
	letter := func(r rune) bool { return unicode.IsLetter(r) }
	digit := func(r rune) bool { return unicode.IsDigit(r) }
	switch mid {
	case '.', '\'', '\u2019':
		return (letter(prev) && letter(next)) || (digit(prev) && digit(next))
	case ':':
		return letter(prev) && letter(next)
	case ',', ';':
		return digit(prev) && digit(next)
	}
	return false
}

// keywordLen is the length ignore_above compares, in characters.
func keywordLen(s string) int {
	return utf8.RuneCountInString(s)
}
