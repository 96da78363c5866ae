package presence

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// benchView returns a View with n registrations in big.example on one
// switch, plus 1,000 small domains of 10 registrations on another, so that
// a one-domain page has plenty around it that it must not touch.
func benchView(b *testing.B, n int) (*View, *Feed) {
	b.Helper()
	v := New()
	f := v.Feed("sw-a")
	exp := time.Now().Add(time.Hour)
	var s Snapshot
	for i := range n {
		u := fmt.Sprintf("%06d", i)
		s.Registrations = append(s.Registrations, Registration{Domain: "big.example", User: u, Contact: "sip:" + u + "@192.0.2.1:5060", Expires: exp})
	}
	f.Replace(s)
	other := v.Feed("sw-b")
	var o Snapshot
	for d := range 1000 {
		for u := range 10 {
			o.Registrations = append(o.Registrations, Registration{Domain: fmt.Sprintf("d%04d.example", d), User: fmt.Sprint(u), Contact: "sip:x", Expires: exp})
		}
	}
	other.Replace(o)
	return v, f
}

// BenchmarkRegistrationsPage reads one page of 100 at a random place in a
// domain of 100,000 registrations, as an API client paging through it does.
func BenchmarkRegistrationsPage(b *testing.B) {
	v, _ := benchView(b, 100000)
	cursors := make([]string, 0, 1000)
	for i := range 1000 {
		cursors = append(cursors, encodeCursor(&Registration{Domain: "big.example", User: fmt.Sprintf("%06d", i*100), Switch: "sw-a"}))
	}
	for _, bc := range []struct {
		name string
		q    RegistrationQuery
	}{
		{"domain", RegistrationQuery{Domain: "big.example"}},
		{"scope", RegistrationQuery{Domains: []string{"d0001.example", "big.example", "d0500.example"}}},
		{"all", RegistrationQuery{}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				q := bc.q
				q.After = cursors[i%len(cursors)]
				i++
				page, _ := v.Registrations(q)
				if len(page) != 100 {
					b.Fatalf("page of %d", len(page))
				}
			}
		})
	}
}

// BenchmarkPutRegistration upserts into a switch holding 100,000
// registrations in one domain: a refresh of an existing contact (the common
// case: every phone re-registers every few minutes) and a new contact at a
// random place, removed again to keep the size constant.
func BenchmarkPutRegistration(b *testing.B) {
	v, f := benchView(b, 100000)
	_ = v
	exp := time.Now().Add(time.Hour)
	rng := rand.New(rand.NewPCG(1, 2))
	b.Run("refresh", func(b *testing.B) {
		for b.Loop() {
			u := fmt.Sprintf("%06d", rng.IntN(100000))
			f.PutRegistration(Registration{Domain: "big.example", User: u, Contact: "sip:" + u + "@192.0.2.1:5060", Expires: exp})
		}
	})
	b.Run("insert+delete", func(b *testing.B) {
		for b.Loop() {
			u := fmt.Sprintf("%06d", rng.IntN(100000))
			f.PutRegistration(Registration{Domain: "big.example", User: u, Contact: "sip:new", Expires: exp})
			f.DeleteRegistration("big.example", u, "sip:new")
		}
	})
}

// BenchmarkReplace resyncs a switch of 100,000 registrations.
func BenchmarkReplace(b *testing.B) {
	_, f := benchView(b, 0)
	exp := time.Now().Add(time.Hour)
	var s Snapshot
	for i := range 100000 {
		u := fmt.Sprintf("%06d", i)
		s.Registrations = append(s.Registrations, Registration{Domain: fmt.Sprintf("d%04d.example", i%100), User: u, Contact: "sip:" + u, Expires: exp})
	}
	for b.Loop() {
		f.Replace(s)
	}
}
