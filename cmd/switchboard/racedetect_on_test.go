//go:build race

package main

// raceEnabled reports whether the race detector is on, which slows timed
// tests down too much for their limits to mean anything.
const raceEnabled = true
