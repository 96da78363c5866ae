//go:build race

package sip

// raceEnabled: the race detector slows probing about tenfold; the memory
// test then uses fewer targets so that each cycle still completes.
const raceEnabled = true
