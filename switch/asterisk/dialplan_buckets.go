package asterisk

import (
	"fmt"
	"hash/fnv"
	"strings"
)

// bucketSize is how many extensions a generated context holds at most
// before it is split. Asterisk keeps a context's extensions in a sorted
// list and walks it for every extension it adds (pbx.c,
// ast_add_extension2_lockopt), so loading one context of n extensions
// costs n²: a switchboard-dids of 20,000 numbers took pbx_config 45 s
// to reload. Split into contexts of about bucketSize, reached by
// include, the same file loads in a fraction of that, and a lookup only
// walks the includes (each a hashed lookup).
const bucketSize = 128

// splitLarge returns c, or, when c has more than bucketSize extensions,
// c holding only its comment-only entries and including buckets: its
// exact-named extensions spread by a hash of the name over
// <name>-b<k>, then its patterns (names starting with _) in <name>-p, then
// c's own includes. Asterisk searches a context's own extensions before
// its includes, and includes in order; the exact names of the buckets
// still come before the patterns, as they did in c (exact matches win
// over patterns), and lookups by Goto, Gosub, labels and
// DIALPLAN_EXISTS follow includes.
func splitLarge(c dialplanContext) []dialplanContext {
	named := 0
	for _, e := range c.Exts {
		if e.Name != "" {
			named++
		}
	}
	if named <= bucketSize {
		return []dialplanContext{c}
	}
	n := (named + bucketSize - 1) / bucketSize
	buckets := make([]dialplanContext, n)
	for i := range buckets {
		buckets[i].Name = fmt.Sprintf("%s-b%d", c.Name, i)
	}
	patterns := dialplanContext{Name: c.Name + "-p"}
	parent := dialplanContext{Name: c.Name, Comment: c.Comment}
	for _, e := range c.Exts {
		switch {
		case e.Name == "":
			parent.Exts = append(parent.Exts, e)
		case strings.HasPrefix(e.Name, "_"):
			patterns.Exts = append(patterns.Exts, e)
		default:
			h := fnv.New32a()
			h.Write([]byte(e.Name))
			b := &buckets[h.Sum32()%uint32(n)]
			b.Exts = append(b.Exts, e)
		}
	}
	out := []dialplanContext{parent}
	for _, b := range buckets {
		parent.Includes = append(parent.Includes, b.Name)
		out = append(out, b)
	}
	if len(patterns.Exts) > 0 {
		parent.Includes = append(parent.Includes, patterns.Name)
		out = append(out, patterns)
	}
	parent.Includes = append(parent.Includes, c.Includes...)
	out[0] = parent
	return out
}
