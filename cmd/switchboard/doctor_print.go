package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/switchboard-voip/switchboard/switch/doctor"
)

// writeChecks prints the report: one line per check (status, name,
// what was found), the fix indented under it, and a count at the end.
func writeChecks(w io.Writer, checks []doctor.Check) {
	width := 0
	for _, c := range checks {
		width = max(width, len(c.Name))
	}
	counts := map[doctor.Status]int{}
	for _, c := range checks {
		counts[c.Status]++
		fmt.Fprintf(w, "  %-4s  %-*s  %s\n", c.Status, width, c.Name, oneLine(c.Detail))
		if c.Fix != "" && c.Status != doctor.OK {
			fmt.Fprintf(w, "  %-4s  %-*s  fix: %s\n", "", width, "", oneLine(c.Fix))
		}
	}
	var parts []string
	for _, s := range []doctor.Status{doctor.OK, doctor.Info, doctor.Warn, doctor.Fail} {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	fmt.Fprintf(w, "%s\n", strings.Join(parts, ", "))
}

// oneLine keeps a detail on its line: a switch's answer may hold line
// breaks.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
