package cdr_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
)

// fakeOwners is a cdr.Owners over a map that a test changes as domains
// change hands; while down is set every lookup fails (or, with hang,
// blocks until its context ends, as a stuck database does).
type fakeOwners struct {
	mu      sync.Mutex
	owner   map[string]int64
	lookups map[string]int
	down    atomic.Bool
	hang    bool
}

func newFakeOwners(owner map[string]int64) *fakeOwners {
	return &fakeOwners{owner: owner, lookups: map[string]int{}}
}

func (o *fakeOwners) DomainTenant(ctx context.Context, domain string) (int64, bool, error) {
	o.mu.Lock()
	o.lookups[domain]++
	o.mu.Unlock()
	if o.down.Load() {
		if o.hang {
			<-ctx.Done()
			return 0, false, ctx.Err()
		}
		return 0, false, errors.New("provisioning store down")
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	id, ok := o.owner[domain]
	return id, ok, nil
}

func (o *fakeOwners) set(domain string, id int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.owner[domain] = id
}

func (o *fakeOwners) count(domain string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.lookups[domain]
}

func inDomain(i int, domain string) cdr.Record {
	r := pipeRec(i)
	r.Domain = domain
	return r
}

func tenantOf(r cdr.Record) int64 {
	if r.TenantID == nil {
		return 0
	}
	return *r.TenantID
}

// Put stamps each record with its domain's owner, one lookup per distinct
// domain per Put; a record that carries an owner keeps it; a domain
// nobody owns, or none, leaves the record without one.
func TestPipelineStampsOwners(t *testing.T) {
	mem := newMemStore()
	owners := newFakeOwners(map[string]int64{"a.example": 1, "b.example": 2})
	p := startPipeline(t, mem, cdr.PipelineConfig{Owners: owners})
	var recs []cdr.Record
	for i := range 40 {
		recs = append(recs, inDomain(i, []string{"a.example", "b.example", "nobody.example", ""}[i%4]))
	}
	nine := int64(9)
	recs[1].TenantID = &nine // b.example, but already owned (a replayed export)
	put(t, p, recs)
	if recs[0].TenantID != nil {
		t.Error("Put modified its argument")
	}
	want := map[string]int64{"a.example": 1, "b.example": 2, "nobody.example": 0, "": 0}
	for _, r := range mem.rows {
		w := want[r.Domain]
		if r.CallID == recs[1].CallID {
			w = 9
		}
		if got := tenantOf(r); got != w {
			t.Errorf("%s in %q: tenant %d, want %d", r.CallID, r.Domain, got, w)
		}
	}
	for d, n := range map[string]int{"a.example": 1, "b.example": 1, "nobody.example": 1, "": 0} {
		if got := owners.count(d); got != n {
			t.Errorf("%d lookups of %q, want %d", got, d, n)
		}
	}
}

// The owner is stamped before the queue and the spool: a CDR ingested
// while the CDR store is down keeps the owner of its domain at ingest
// when it is replayed, after the domain changed hands (issue 11), on
// both engines.
func TestPipelineOwnerSurvivesSpool(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		store := migrated(t, db)
		var down atomic.Bool
		down.Store(true)
		owners := newFakeOwners(map[string]int64{"d.example": 2}) // tenant B
		p := startPipeline(t, flaky(store, &down, errRefused), cdr.PipelineConfig{Owners: owners})
		put(t, p, []cdr.Record{inDomain(0, "d.example"), inDomain(1, "never.example")})
		if st := p.Stats(); st.SpoolRecords != 2 {
			t.Fatalf("stats %+v, want two records spooled", st)
		}
		// B deletes d, A (tenant 1) creates it, and creates never.example.
		owners.set("d.example", 1)
		owners.set("never.example", 1)
		down.Store(false)
		waitFor(t, "the spool drains", drained(p))
		ctx := context.Background()
		for _, tc := range []struct {
			name    string
			tenants []int64
			want    []string
		}{
			{"A", []int64{1}, nil},
			{"B", []int64{2}, []string{"call-000000"}},
			{"admin", nil, []string{"call-000001", "call-000000"}},
		} {
			recs, _, err := store.Query(ctx, cdr.Filter{Tenants: tc.tenants})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range recs {
				got = append(got, r.CallID)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s sees %v, want %v", tc.name, got, tc.want)
			}
		}
	})
}

// An owner lookup that fails never refuses nor delays a CDR past
// OwnerTimeout: with both stores down the records are spooled (kind 'u')
// and their owner is looked up again when the spool is replayed; with the
// CDR store up they are stored at once, admin-only if the second lookup
// fails too. A domain nobody owned at ingest is not looked up again.
func TestPipelineOwnerLookupDown(t *testing.T) {
	t.Run("both down, then back", func(t *testing.T) {
		mem := newMemStore()
		var down atomic.Bool
		down.Store(true)
		owners := newFakeOwners(map[string]int64{"a.example": 1})
		owners.down.Store(true)
		p := startPipeline(t, flaky(mem, &down, errRefused), cdr.PipelineConfig{Owners: owners})
		put(t, p, []cdr.Record{inDomain(0, "a.example"), inDomain(1, "a.example")})
		owners.down.Store(false)
		down.Store(false)
		waitFor(t, "the spool drains", drained(p))
		for _, r := range mem.rows {
			if tenantOf(r) != 1 {
				t.Errorf("%s: tenant %d, want 1 (looked up again on replay)", r.CallID, tenantOf(r))
			}
		}
	})
	t.Run("owners hang, store up", func(t *testing.T) {
		mem := newMemStore()
		owners := newFakeOwners(map[string]int64{"a.example": 1})
		owners.down.Store(true)
		owners.hang = true
		p := startPipeline(t, mem, cdr.PipelineConfig{Owners: owners, OwnerTimeout: 50 * time.Millisecond})
		start := time.Now()
		put(t, p, []cdr.Record{inDomain(0, "a.example")})
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Put took %v with the owners hanging", d)
		}
		if len(mem.rows) != 1 || mem.rows[0].TenantID != nil {
			t.Errorf("stored %+v, want the record without an owner", mem.rows)
		}
	})
	t.Run("nobody's domain is not looked up again", func(t *testing.T) {
		mem := newMemStore()
		var down atomic.Bool
		down.Store(true)
		owners := newFakeOwners(map[string]int64{})
		p := startPipeline(t, flaky(mem, &down, errRefused), cdr.PipelineConfig{Owners: owners})
		put(t, p, []cdr.Record{inDomain(0, "new.example")})
		owners.set("new.example", 5) // created after the call
		down.Store(false)
		waitFor(t, "the spool drains", drained(p))
		if len(mem.rows) != 1 || mem.rows[0].TenantID != nil || owners.count("new.example") != 1 {
			t.Errorf("stored %+v after %d lookups, want no owner after one", mem.rows, owners.count("new.example"))
		}
	})
}
