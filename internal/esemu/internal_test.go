package esemu

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestParseJSON(t *testing.T) {
	tests := []struct {
		in, out, err string
	}{
		{`{"a":1,"b":[true,false,null],"c":{"d":"e\u00e9\n"}}`, `{"a":1,"b":[true,false,null],"c":{"d":"eé\n"}}`, ""},
		{` [ 1.5e3 , -0 ] `, `[1.5e3,-0]`, ""},
		{`"\ud83d\ude00"`, `"😀"`, ""},
		{`{"a":1,"a":2}`, "", "[1:8] Duplicate field 'a'"},
		{`{"a":1`, "", "[1:7] Unexpected end-of-input: expected close marker for Object"},
		{`{a:1}`, "", "[1:2] Unexpected character ('a' (code 97)): was expecting double-quote to start field name"},
		{`[01]`, "", "[1:2] Invalid numeric value: Leading zeroes not allowed"},
		{`tru`, "", "[1:1] Unrecognized token 'tru'"},
		{"{\n\"a\":}", "", "[2:5] Unexpected character ('}' (code 125)): expected a value"},
		{`{} x`, "", "[1:4] Unexpected character ('x' (code 120)): expected end of input"},
		{"\"a\x01\"", "", "Illegal unquoted character ((CTRL-CHAR, code 1))"},
		{strings.Repeat("[", 1001) + strings.Repeat("]", 1001), "", "Document nesting depth (1001) exceeds the maximum allowed (1000"},
		{"", "", "Unexpected end-of-input"},
	}
	for _, tt := range tests {
		v, err := parseJSON([]byte(tt.in))
		if tt.err != "" {
			if err == nil {
				t.Errorf("%.40q: no error", tt.in)
				continue
			}
			if got := errXContent([]byte(tt.in), err).reason; !strings.Contains(got, tt.err) {
				t.Errorf("%.40q: error %q, want %q", tt.in, got, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if got := string(appendValue(nil, &v)); got != tt.out {
			t.Errorf("%q: %s, want %s", tt.in, got, tt.out)
		}
	}
}

func TestAppendStringIsValidJSON(t *testing.T) {
	for _, s := range []string{"plain", "quote\" back\\slash", "ctl\x00\x1f\t", "<html>&", "bad\xffutf8\xc3", "é😀"} {
		b := appendString(nil, s)
		var back string
		if err := json.Unmarshal(b, &back); err != nil {
			t.Errorf("%q -> %s: %v", s, b, err)
		}
		if strings.Contains(string(b), `\u003c`) {
			t.Errorf("%q -> %s: HTML escaped", s, b)
		}
	}
}

func TestAnalyze(t *testing.T) {
	got := strings.Join(analyze("The QUICK brown-fox's e-mail: a.b@example.com, 3.14 1,000 x_y 日本"), "|")
	want := "the|quick|brown|fox's|e|mail|a.b|example.com|3.14|1,000|x_y|日|本"
	if got != want {
		t.Errorf("analyze = %s\nwant      %s", got, want)
	}
}

func TestWildcardMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		q, want    bool
	}{
		{"*", "", false, true},
		{"a*", "abc", false, true},
		{"*c", "abc", false, true},
		{"a*c*e", "abcde", false, true},
		{"a*c*e", "abcdf", false, false},
		{"a?c", "abc", true, true},
		{"a?c", "a?c", false, true},
		{"a?c", "abc", false, false},
		{"**x", "yyx", false, true},
	}
	for _, tt := range tests {
		if got := wildcardMatch(tt.pattern, tt.s, tt.q); got != tt.want {
			t.Errorf("wildcardMatch(%q, %q, %v) = %v", tt.pattern, tt.s, tt.q, got)
		}
	}
}

func TestDates(t *testing.T) {
	now := time.Date(2024, 3, 15, 13, 45, 30, 0, time.UTC)
	ms := func(s string) int64 {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UnixMilli()
	}
	tests := []struct {
		in      string
		roundUp bool
		want    int64
		ok      bool
	}{
		{"2024-01-02", false, ms("2024-01-02T00:00:00Z"), true},
		{"2024-01-02", true, ms("2024-01-02T23:59:59.999Z"), true},
		{"2024-01", true, ms("2024-01-31T23:59:59.999Z"), true},
		{"2024-01-02T03:04:05.678+01:00", false, ms("2024-01-02T02:04:05.678Z"), true},
		{"2024-02-30", false, 0, false},
		{"1704067200000", false, ms("2024-01-01T00:00:00Z"), true},
		{"now", false, now.UnixMilli(), true},
		{"now-1d/d", false, ms("2024-03-14T00:00:00Z"), true},
		{"now/d", true, ms("2024-03-15T23:59:59.999Z"), true},
		{"2024-01-31||+1M", false, ms("2024-02-29T00:00:00Z"), true},
		{"2024-02-29||+1y", false, ms("2025-02-28T00:00:00Z"), true},
		{"yesterday", false, 0, false},
	}
	for _, tt := range tests {
		got, ok := parseDateMath(nil, tt.in, tt.roundUp, now)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("parseDateMath(%q, %v) = %d %v, want %d %v", tt.in, tt.roundUp, got, ok, tt.want, tt.ok)
		}
	}
}

func TestFilterPath(t *testing.T) {
	in := `{"took":1,"errors":false,"items":[{"index":{"_id":"1","status":201}},{"delete":{"_id":"2","status":404}}],"a":{"b":{"c":1,"d":2}}}`
	tests := []struct{ spec, want string }{
		{"took", `{"took":1}`},
		{"items.*.status", `{"items":[{"index":{"status":201}},{"delete":{"status":404}}]}`},
		{"**.c", `{"a":{"b":{"c":1}}}`},
		{"-items,-a.b.c", `{"took":1,"errors":false,"a":{"b":{"d":2}}}`},
		{"nothing", `{}`},
	}
	for _, tt := range tests {
		if got := string(filterPath([]byte(in), tt.spec)); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.spec, got, tt.want)
		}
	}
}
