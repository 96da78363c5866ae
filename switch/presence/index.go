package presence

import (
	"container/heap"
	"slices"
	"strings"
	"time"
)

// maxChunk bounds a chunk of a regIndex. An insert moves at most this many
// pointers and a seek binary-searches n/maxChunk chunks and then one chunk,
// so both stay in the low microseconds at 100,000 registrations per domain,
// where one flat sorted slice would move hundreds of kilobytes per insert.
const maxChunk = 512

// regEntry is one stored registration plus the janitor's bookkeeping. Its
// Registration is updated in place under the View's write lock; readers copy
// it out under the read lock.
type regEntry struct {
	Registration
	// queued is the UnixNano time of this entry's pending item in the
	// expiry heap, 0 when it has none. Only the earliest item counts: later
	// ones that no longer match are skipped when they surface.
	queued  int64
	removed bool // deleted from its index; its heap items are stale
}

// compareKey orders entries of one (switch, domain) index by (User, Contact).
func compareKey(e *regEntry, user, contact string) int {
	if c := strings.Compare(e.User, user); c != 0 {
		return c
	}
	return strings.Compare(e.Contact, contact)
}

// regIndex holds one switch's registrations in one domain, ordered by
// (User, Contact), as a list of sorted chunks: a poor man's B-tree of depth
// two. Chunks are never empty.
type regIndex struct {
	chunks [][]*regEntry
	n      int
}

// pos is a position in a regIndex: chunk c, item i. The end is
// {len(chunks), 0}. Positions compare lexicographically.
type pos struct{ c, i int }

func (p pos) before(q pos) bool { return p.c < q.c || (p.c == q.c && p.i < q.i) }

// seek returns the position of the first entry whose key is >= (user,
// contact), or > when strict.
func (x *regIndex) seek(user, contact string, strict bool) pos {
	match := func(e *regEntry) bool {
		r := compareKey(e, user, contact)
		return r > 0 || (!strict && r == 0)
	}
	lo, hi := 0, len(x.chunks)
	for lo < hi { // first chunk whose last entry matches
		m := int(uint(lo+hi) >> 1)
		if ch := x.chunks[m]; match(ch[len(ch)-1]) {
			hi = m
		} else {
			lo = m + 1
		}
	}
	if lo == len(x.chunks) {
		return pos{lo, 0}
	}
	ch := x.chunks[lo]
	i, j := 0, len(ch)
	for i < j {
		m := int(uint(i+j) >> 1)
		if match(ch[m]) {
			j = m
		} else {
			i = m + 1
		}
	}
	return pos{lo, i}
}

// at returns the entry at p, nil at the end.
func (x *regIndex) at(p pos) *regEntry {
	if p.c >= len(x.chunks) {
		return nil
	}
	return x.chunks[p.c][p.i]
}

// next returns the position after p, which must not be the end.
func (x *regIndex) next(p pos) pos {
	p.i++
	if p.i == len(x.chunks[p.c]) {
		p.c, p.i = p.c+1, 0
	}
	return p
}

// find returns the entry for (user, contact) if any, and the position
// where it is or would be inserted.
func (x *regIndex) find(user, contact string) (*regEntry, pos) {
	p := x.seek(user, contact, false)
	if e := x.at(p); e != nil && e.User == user && e.Contact == contact {
		return e, p
	}
	return nil, p
}

// insertAt inserts e at p, as returned by find for e's key.
func (x *regIndex) insertAt(p pos, e *regEntry) {
	x.n++
	if len(x.chunks) == 0 {
		x.chunks = [][]*regEntry{make([]*regEntry, 0, 8)}
	}
	if p.c == len(x.chunks) { // past the end: append to the last chunk
		p.c = len(x.chunks) - 1
		p.i = len(x.chunks[p.c])
	}
	ch := slices.Insert(x.chunks[p.c], p.i, e)
	if len(ch) <= maxChunk {
		x.chunks[p.c] = ch
		return
	}
	half := len(ch) / 2
	right := make([]*regEntry, len(ch)-half, maxChunk)
	copy(right, ch[half:])
	clear(ch[half:])
	x.chunks[p.c] = ch[:half]
	x.chunks = slices.Insert(x.chunks, p.c+1, right)
}

// removeAt deletes the entry at p and returns it with the position of the
// entry that followed it. Small neighbouring chunks are merged so that mass
// deletions do not leave a long list of tiny chunks.
func (x *regIndex) removeAt(p pos) (*regEntry, pos) {
	x.n--
	ch := x.chunks[p.c]
	e := ch[p.i]
	ch = slices.Delete(ch, p.i, p.i+1)
	switch {
	case len(ch) == 0:
		x.chunks = slices.Delete(x.chunks, p.c, p.c+1)
		return e, pos{p.c, 0}
	case len(ch) < maxChunk/4 && p.c+1 < len(x.chunks) && len(ch)+len(x.chunks[p.c+1]) <= maxChunk/2:
		x.chunks[p.c] = append(ch, x.chunks[p.c+1]...)
		x.chunks = slices.Delete(x.chunks, p.c+1, p.c+2)
	default:
		x.chunks[p.c] = ch
	}
	if p.i == len(x.chunks[p.c]) {
		return e, pos{p.c + 1, 0}
	}
	return e, p
}

// indexFromSorted builds an index from entries already sorted by key and
// free of duplicates, filling chunks three quarters full.
func indexFromSorted(es []*regEntry) *regIndex {
	x := &regIndex{n: len(es)}
	const fill = maxChunk * 3 / 4
	for len(es) > 0 {
		k := min(fill, len(es))
		ch := make([]*regEntry, k, maxChunk)
		copy(ch, es[:k])
		x.chunks = append(x.chunks, ch)
		es = es[k:]
	}
	return x
}

// expiryItem is a pending expiry check of one entry.
type expiryItem struct {
	at int64 // UnixNano
	e  *regEntry
}

// expiryHeap is a min-heap by time, so that the janitor finds what expired
// without scanning and readers know in O(1) whether anything may have.
type expiryHeap []expiryItem

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiryItem)) }
func (h *expiryHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = expiryItem{}
	*h = old[:len(old)-1]
	return it
}

// regTable is one switch's registrations, indexed per domain.
type regTable struct {
	byDomain map[string]*regIndex
	expiry   expiryHeap
	n        int
}

func newRegTable() *regTable { return &regTable{byDomain: map[string]*regIndex{}} }

// expired reports whether r had an expiry time and it has passed.
func expired(r *Registration, now time.Time) bool {
	return !r.Expires.IsZero() && !now.Before(r.Expires)
}

// mayHaveExpired reports whether some entry may have expired by now. It can
// say yes needlessly (a refreshed entry's old heap item) but never no
// wrongly, so readers skip expiry checks on the fast path only when safe.
func (t *regTable) mayHaveExpired(now time.Time) bool {
	return len(t.expiry) > 0 && t.expiry[0].at <= now.UnixNano()
}

// schedule queues an expiry check for e unless an earlier one is pending.
func (t *regTable) schedule(e *regEntry) {
	if e.Expires.IsZero() {
		return
	}
	at := e.Expires.UnixNano()
	if e.queued != 0 && e.queued <= at {
		return
	}
	e.queued = at
	heap.Push(&t.expiry, expiryItem{at: at, e: e})
}

// put upserts r, which must not be expired. It reports whether r's domain
// had no index in this table before.
func (t *regTable) put(r Registration) (newDomain bool) {
	x := t.byDomain[r.Domain]
	if x == nil {
		x = &regIndex{}
		t.byDomain[r.Domain] = x
		newDomain = true
	}
	e, p := x.find(r.User, r.Contact)
	if e != nil {
		e.Registration = r
	} else {
		e = &regEntry{Registration: r}
		x.insertAt(p, e)
		t.n++
	}
	t.schedule(e)
	return newDomain
}

// delete removes (domain, user, contact), or every contact of the user when
// contact is "". It reports whether the domain's index became empty and was
// dropped.
func (t *regTable) delete(domain, user, contact string) (emptied bool) {
	x := t.byDomain[domain]
	if x == nil {
		return false
	}
	if contact != "" {
		if e, p := x.find(user, contact); e != nil {
			t.removeAt(x, p)
		}
	} else {
		p := x.seek(user, "", false)
		for e := x.at(p); e != nil && e.User == user; e = x.at(p) {
			p = t.removeAt(x, p)
		}
	}
	if x.n == 0 {
		delete(t.byDomain, domain)
		return true
	}
	return false
}

func (t *regTable) removeAt(x *regIndex, p pos) pos {
	e, next := x.removeAt(p)
	e.removed = true
	t.n--
	return next
}

// removeEntry removes e itself and reports whether its domain's index
// became empty and was dropped.
func (t *regTable) removeEntry(e *regEntry) (emptied bool) {
	x := t.byDomain[e.Domain]
	if x == nil {
		return false
	}
	if found, p := x.find(e.User, e.Contact); found == e {
		t.removeAt(x, p)
	}
	if x.n == 0 {
		delete(t.byDomain, e.Domain)
		return true
	}
	return false
}

// expire drops the entries expired by now and returns the domains whose
// index became empty.
func (t *regTable) expire(now time.Time) (emptied []string) {
	ns := now.UnixNano()
	for len(t.expiry) > 0 && t.expiry[0].at <= ns {
		it := heap.Pop(&t.expiry).(expiryItem)
		e := it.e
		if e.removed || e.queued != it.at {
			continue // deleted, or superseded by an earlier item
		}
		e.queued = 0
		if !expired(&e.Registration, now) {
			t.schedule(e) // refreshed since: check again at its new expiry
			continue
		}
		if t.removeEntry(e) {
			emptied = append(emptied, e.Domain)
		}
	}
	return emptied
}

// buildRegTable builds a table from a snapshot outside any lock: entries
// are normalised, expired ones dropped, duplicates resolved in favour of the
// later one, and each domain sorted once.
func buildRegTable(regs []Registration, norm func(*Registration), now time.Time) *regTable {
	t := newRegTable()
	groups := map[string][]*regEntry{}
	for _, r := range regs {
		norm(&r)
		if expired(&r, now) {
			continue
		}
		groups[r.Domain] = append(groups[r.Domain], &regEntry{Registration: r})
	}
	for d, es := range groups {
		slices.SortStableFunc(es, func(a, b *regEntry) int { return compareKey(a, b.User, b.Contact) })
		out := es[:0]
		for i, e := range es {
			if i+1 < len(es) && compareKey(es[i+1], e.User, e.Contact) == 0 {
				continue // a later duplicate wins
			}
			out = append(out, e)
		}
		t.byDomain[d] = indexFromSorted(out)
		t.n += len(out)
		for _, e := range out {
			if !e.Expires.IsZero() {
				e.queued = e.Expires.UnixNano()
				t.expiry = append(t.expiry, expiryItem{at: e.queued, e: e})
			}
		}
	}
	heap.Init(&t.expiry)
	return t
}

// domainSet is the sorted union of the domains every switch has
// registrations in, with a count of switches per domain. Queries without a
// domain filter walk it in order instead of sorting map keys per page.
type domainSet struct {
	refs  map[string]int
	names []string
}

func (s *domainSet) add(d string) {
	s.refs[d]++
	if s.refs[d] == 1 {
		i, _ := slices.BinarySearch(s.names, d)
		s.names = slices.Insert(s.names, i, d)
	}
}

func (s *domainSet) remove(d string) {
	s.refs[d]--
	if s.refs[d] <= 0 {
		delete(s.refs, d)
		if i, ok := slices.BinarySearch(s.names, d); ok {
			s.names = slices.Delete(s.names, i, i+1)
		}
	}
}

// swap replaces one switch's domains old by new in bulk, as a Replace does;
// a large change rebuilds the sorted list once instead of inserting one by
// one.
func (s *domainSet) swap(old, new map[string]*regIndex) {
	var added, removed []string
	for d := range old {
		if _, ok := new[d]; !ok {
			removed = append(removed, d)
		}
	}
	for d := range new {
		if _, ok := old[d]; !ok {
			added = append(added, d)
		}
	}
	if len(added)+len(removed) < 64 {
		for _, d := range removed {
			s.remove(d)
		}
		for _, d := range added {
			s.add(d)
		}
		return
	}
	for _, d := range removed {
		if s.refs[d]--; s.refs[d] <= 0 {
			delete(s.refs, d)
		}
	}
	for _, d := range added {
		s.refs[d]++
	}
	s.names = s.names[:0]
	for d := range s.refs {
		s.names = append(s.names, d)
	}
	slices.Sort(s.names)
}
