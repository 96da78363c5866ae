package cdr

import "time"

// SetRetry sets the drainer's backoff, so that tests of outages take
// milliseconds.
func SetRetry(p *Pipeline, first, most time.Duration) { p.retryMin, p.retryMax = first, most }

// SpoolLines returns the spool lines of recs then dls, as the pipeline
// writes them, for tests that build a spool by hand (what a crashed run
// left behind).
func SpoolLines(recs []Record, dls []DeadLetter) []byte {
	var buf []byte
	for i := range recs {
		buf, _ = appendSpoolLine(buf, spoolEntry{rec: &recs[i]})
	}
	for i := range dls {
		buf, _ = appendSpoolLine(buf, spoolEntry{dl: &dls[i]})
	}
	return buf
}

// SpoolSegmentName is the file name of segment seq.
func SpoolSegmentName(seq uint64) string { return segmentName(seq) }

// IsPoison exposes the pipeline's error classification.
var IsPoison = isPoison
