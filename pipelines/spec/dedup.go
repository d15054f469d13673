package spec

import (
	"fmt"
	"sort"

	"gopkg.in/yaml.v3"
)

// Duplicate is a key that a mapping repeats.
type Duplicate struct {
	Mapping *yaml.Node
	Key     *yaml.Node // the repeat
	First   *yaml.Node // the first key of that name in Mapping
}

// Problem is the duplicate's problem, at the repeat, naming the line of
// the first: `duplicate key "sample" (first at line 9)`.
func (d Duplicate) Problem(file string) Problem {
	return Problem{file, d.Key.Line, d.Key.Column, d.Message()}
}

// Message is the problem's message.
func (d Duplicate) Message() string {
	name, _ := keyText(d.Key)
	return fmt.Sprintf("duplicate key %q (first at line %d)", name, d.First.Line)
}

// Dedup finds the keys that a mapping of node repeats, in every mapping
// at any depth, and removes each repeat with its value from its mapping:
// what walks the tree next (Check, a loader) sees every key once, the
// first, and reports nothing about the repeats beyond their Duplicate.
// The duplicates are returned in the order of the file.
//
// yaml.v3 decodes a repeated key into the node tree as it is (only its
// Unmarshal into maps and structs refuses one), so nothing else catches
// the names that no spec declares: two inputs, two pipelines or two
// aggregations of one name.
//
// Keys are compared as written, before Expand: a key "${NAME}" is the
// text "${NAME}", whatever NAME holds. Scalar keys are compared by their
// text, whatever their tag ("1" and 1 are one name); an alias key by the
// scalar it stands for; other keys (mappings, lists) are not compared.
// Aliases are not followed: an anchored mapping is checked where it is
// written. A merge key "<<" is a key like the others, so two in one
// mapping are a duplicate (YAML merges one key, which may list several
// mappings), but a key written beside it is not a duplicate of a key it
// merges: YAML lets the keys written override the merged ones.
func Dedup(node *yaml.Node) []Duplicate {
	var ds []Duplicate
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			first := map[string]*yaml.Node{}
			kept := n.Content[:0]
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				name, ok := keyText(k)
				if ok {
					if f, seen := first[name]; seen {
						ds = append(ds, Duplicate{Mapping: n, Key: k, First: f})
						continue
					}
					first[name] = k
				}
				kept = append(kept, k, v)
			}
			clear(n.Content[len(kept):])
			n.Content = kept
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(node)
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i].Key, ds[j].Key
		return a.Line < b.Line || a.Line == b.Line && a.Column < b.Column
	})
	return ds
}

// keyText is the text a key is compared by, if it is a scalar.
func keyText(k *yaml.Node) (string, bool) {
	if k.Kind == yaml.AliasNode && k.Alias != nil {
		k = k.Alias
	}
	if k.Kind != yaml.ScalarNode {
		return "", false
	}
	return k.Value, true
}
