// Package doctor is the vocabulary of `switchboard doctor`: each adapter
// checks a live switch against what Switchboard needs of it and reports
// Checks; the command prints them. The adapters own the knowledge of their
// switch (what to ask, what the answer means, what to fix); this package
// only names the outcome, so that both switches read alike.
package doctor

import (
	"strconv"
	"strings"
)

// Status is the outcome of one check.
type Status int

// The outcomes, from best to worst. Info is a fact the operator should
// know, or a check that cannot be made from outside (said so, with how to
// check by hand); Warn works today but is fragile or will cost data in
// some event; Fail is something Switchboard needs that is missing or
// wrong.
const (
	OK Status = iota
	Info
	Warn
	Fail
)

func (s Status) String() string {
	switch s {
	case OK:
		return "ok"
	case Info:
		return "info"
	case Warn:
		return "warn"
	case Fail:
		return "FAIL"
	}
	return "?"
}

// Check is one line of the report.
type Check struct {
	// Name is the short name of what was checked ("esl", "xml_curl").
	Name   string
	Status Status
	// Detail is what was found, in one sentence; never a secret.
	Detail string
	// Fix is what to change, when Status is Warn or Fail.
	Fix string
}

// Failed reports whether any check failed.
func Failed(checks []Check) bool {
	for _, c := range checks {
		if c.Status == Fail {
			return true
		}
	}
	return false
}

// List joins names for a detail line, naming at most max of them and
// counting the rest ("1000, 1001, 1002 and 17 more").
func List(names []string, max int) string {
	if len(names) <= max {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:max], ", ") + " and " + strconv.Itoa(len(names)-max) + " more"
}

// Count writes n with noun, plural when n is not 1 ("1 user", "20
// users").
func Count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
