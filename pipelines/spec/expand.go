package spec

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// Expand replaces ${NAME} in the scalars of node with lookup(NAME), in
// place, and returns a problem for each name lookup does not know.
// ${NAME:-default} takes default when NAME is unset or empty, as in the
// shell. $$ stands for a literal $. Use os.LookupEnv as lookup to read secrets from
// the environment.
func Expand(file string, node *yaml.Node, lookup func(string) (string, bool)) Problems {
	var ps Problems
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "$") {
			v, missing := expand(n.Value, lookup)
			for _, m := range missing {
				ps = append(ps, Problem{file, n.Line, n.Column, "the environment variable " + m + " is not set"})
			}
			if len(missing) == 0 && v != n.Value {
				n.Value = v
				if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
					// A plain scalar: its type is the new value's
					// ("${PORT}" becomes the integer 5432), as if written.
					n.Tag = ""
					n.Tag = n.ShortTag()
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(node)
	ps.sort()
	return ps
}

func expand(s string, lookup func(string) (string, bool)) (string, []string) {
	var b strings.Builder
	var missing []string
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String(), missing
			}
			name := s[i+2 : i+2+end]
			name, def, hasDef := strings.Cut(name, ":-")
			if v, ok := lookup(name); ok && (v != "" || !hasDef) {
				b.WriteString(v)
			} else if hasDef {
				b.WriteString(def)
			} else {
				missing = append(missing, name)
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String(), missing
}
