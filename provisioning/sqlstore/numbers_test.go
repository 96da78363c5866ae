package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
)

// extensions is the dcp dialect's range.
var extensions = provisioning.NumberRange{First: 1000, Last: 99_999_999}

// allocate creates an account in d under the next free number of r.
func allocate(ctx context.Context, s *sqlstore.Store, d *provisioning.Domain, r provisioning.NumberRange) (*provisioning.Account, error) {
	a := &provisioning.Account{DomainID: d.ID, Secret: "secret"}
	err := s.CreateNumberedAccount(ctx, a, r, func(a *provisioning.Account) error {
		a.HA1 = provisioning.HA1(a.Username, a.Domain, a.Secret)
		return nil
	})
	return a, err
}

func TestCreateNumberedAccount(t *testing.T) {
	ctx := context.Background()
	long := []string{"99999999999999999999", "100000000000000000000", "84901234567", "123456789"} // past the range
	odd := []string{"alice", "12", "0999", "01234", "00001000", "9a99", "1_00", "1-00", "desk-1", "1000x"}
	for _, tc := range []struct {
		name   string
		taken  []string
		r      provisioning.NumberRange
		want   string
		noFree bool
	}{
		{name: "empty domain", r: extensions, want: "1000"},
		{name: "only usernames outside the range", taken: slices.Concat(long, odd), r: extensions, want: "1000"},
		{name: "the highest plus one", taken: []string{"1000", "1500", "999"}, r: extensions, want: "1501"},
		{name: "a 20-digit number does not end the range", taken: slices.Concat([]string{"2000"}, long), r: extensions, want: "2001"},
		{name: "non-digits of the same width are not numbers", taken: []string{"1500", "9a99", "1_00", "15a1"}, r: extensions, want: "1501"},
		{name: "a leading zero is another username", taken: []string{"1500", "0001501", "00001501"}, r: extensions, want: "1501"},
		{name: "into the next width", taken: []string{"9999"}, r: extensions, want: "10000"},
		{name: "the longest width is the highest", taken: []string{"9999", "10000", "99999"}, r: extensions, want: "100000"},
		{name: "top taken: the first gap", taken: []string{"1000", "1001", "1003", "99999999"}, r: extensions, want: "1002"},
		{name: "top taken: the first number", taken: []string{"1001", "99999999"}, r: extensions, want: "1000"},
		{name: "top taken: a gap across widths", taken: []string{"98", "99", "101", "102"}, r: provisioning.NumberRange{First: 98, Last: 102}, want: "100"},
		{name: "top taken: a leading zero does not fill a gap", taken: []string{"0100", "100", "102"}, r: provisioning.NumberRange{First: 100, Last: 102}, want: "101"},
		{name: "every number taken", taken: []string{"10", "11", "12", "0013", "13x"}, r: provisioning.NumberRange{First: 10, Last: 12}, noFree: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
				s := newStore(t, db)
				tn := tenant(t, s, "t", nil)
				d, other := domain(t, s, "d.example", tn), domain(t, s, "other.example", tn)
				account(t, s, "5000", other, nil) // another domain's numbers do not count
				for _, u := range tc.taken {
					account(t, s, u, d, nil)
				}
				a, err := allocate(ctx, s, d, tc.r)
				if tc.noFree {
					if !errors.Is(err, provisioning.ErrNoFreeNumber) || !errors.Is(err, provisioning.ErrConflict) {
						t.Fatalf("got %v (%+v), want ErrNoFreeNumber", err, a)
					}
					return
				}
				must(t, err)
				if a.Username != tc.want || a.ID == 0 || a.Domain != "d.example" || a.HA1 != provisioning.HA1(tc.want, "d.example", "secret") {
					t.Fatalf("allocated %+v, want %s", a, tc.want)
				}
				got, err := s.AccountByUsername(ctx, d.ID, tc.want)
				must(t, err)
				if got.ID != a.ID || got.HA1 != a.HA1 {
					t.Errorf("stored %+v", got)
				}
			})
		})
	}
}

// TestCreateNumberedAccountRefusals: a bad range or domain writes nothing,
// and an error of prepare is returned as it is.
func TestCreateNumberedAccountRefusals(t *testing.T) {
	ctx := context.Background()
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s := newStore(t, db)
		d := domain(t, s, "d.example", tenant(t, s, "t", nil))
		for _, r := range []provisioning.NumberRange{{First: 0, Last: 10}, {First: 10, Last: 9}, {First: 1, Last: provisioning.MaxAllocatable + 1}} {
			if _, err := allocate(ctx, s, d, r); !errors.Is(err, provisioning.ErrInvalid) {
				t.Errorf("range %+v: %v", r, err)
			}
		}
		if _, err := allocate(ctx, s, &provisioning.Domain{ID: d.ID + 100}, extensions); !errors.Is(err, provisioning.ErrNotFound) {
			t.Errorf("unknown domain: %v", err)
		}
		boom := errors.New("boom")
		err := s.CreateNumberedAccount(ctx, &provisioning.Account{DomainID: d.ID}, extensions, func(*provisioning.Account) error { return boom })
		if !errors.Is(err, boom) {
			t.Errorf("prepare's error: %v", err)
		}
		as, err := s.Accounts(ctx, provisioning.AccountFilter{DomainID: d.ID})
		must(t, err)
		if len(as) != 0 {
			t.Errorf("refusals wrote %d accounts", len(as))
		}
	})
}

// TestConcurrentNumberAllocation: 20 parallel allocations in one domain
// (which holds a 20-digit number and names) get 20 distinct consecutive
// numbers, none a conflict, on both engines; allocations in another domain
// at the same time are not held up by them and start at 1000 too.
func TestConcurrentNumberAllocation(t *testing.T) {
	ctx := context.Background()
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s := newStore(t, db)
		tn := tenant(t, s, "t", nil)
		d, e := domain(t, s, "d.example", tn), domain(t, s, "e.example", tn)
		for _, u := range []string{"99999999999999999999", "alice", "1999"} {
			account(t, s, u, d, nil)
		}
		const n = 20
		got := map[string][]string{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range 2 * n {
			dom := d
			if i%2 == 1 {
				dom = e
			}
			wg.Go(func() {
				a, err := allocate(ctx, s, dom, extensions)
				if err != nil {
					t.Errorf("allocation %d: %v", i, err)
					return
				}
				mu.Lock()
				got[dom.Name] = append(got[dom.Name], a.Username)
				mu.Unlock()
			})
		}
		wg.Wait()
		for name, first := range map[string]int{"d.example": 2000, "e.example": 1000} {
			var want []string
			for i := range n {
				want = append(want, fmt.Sprint(first+i))
			}
			if g := got[name]; !slices.Equal(sorted(g), want) {
				t.Errorf("%s: allocated %v, want %v", name, sorted(g), want)
			}
		}
	})
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.SortFunc(s, func(a, b string) int {
		if len(a) != len(b) {
			return len(a) - len(b)
		}
		if a < b {
			return -1
		}
		if a > b {
			return 1
		}
		return 0
	})
	return s
}
