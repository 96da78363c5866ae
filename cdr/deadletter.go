package cdr

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
	"unicode/utf8"
)

// DeadLetter is a CDR, or something that claimed to be one, that could not
// be stored: malformed, truncated, or refused by validation. It is kept with
// the reason instead of being dropped, so an operator can see what a switch
// sent and replay it once fixed.
//
// Only an excerpt of what was received is kept (see Bound): a dead letter
// is by definition something nobody vouched for, and a sender with valid
// credentials must not grow the database by what it posts.
type DeadLetter struct {
	ID     int64  `json:"id" db:"id"`
	Source string `json:"source" db:"source"` // e.g. "freeswitch:fs1 json_cdr", "import Master.csv:17"
	Reason string `json:"reason" db:"reason"`
	// Raw is the first MaxDeadLetterExcerpt bytes of what was received
	// (as text, invalid UTF-8 replaced), cut on a character boundary.
	Raw string `json:"raw" db:"raw"`
	// RawSHA256 is the hex SHA-256 and RawSize the length in bytes of the
	// whole of what was received, so that the original can be matched in
	// the switch's own logs or spool.
	RawSHA256  string    `json:"raw_sha256" db:"raw_sha256"`
	RawSize    int64     `json:"raw_size" db:"raw_size"`
	ReceivedAt time.Time `json:"received_at" db:"received_at"`
}

// MaxDeadLetterExcerpt is the most bytes of a dead letter's Raw that are
// kept: enough to read a CSV line or the head of a JSON document and see
// what went wrong.
const MaxDeadLetterExcerpt = 4 << 10

// Bound reduces d.Raw to its excerpt, recording the hash and size of the
// whole first. Every dead letter goes through it before it is spooled or
// stored (Pipeline.Reject and the stores call it), whoever produced it.
// It is idempotent: a bounded dead letter (RawSHA256 set) is left alone.
func (d *DeadLetter) Bound() {
	if d.RawSHA256 != "" {
		return
	}
	sum := sha256.Sum256([]byte(d.Raw))
	d.RawSHA256, d.RawSize = hex.EncodeToString(sum[:]), int64(len(d.Raw))
	if len(d.Raw) <= MaxDeadLetterExcerpt {
		return
	}
	cut := MaxDeadLetterExcerpt
	for i := 0; i < utf8.UTFMax && cut > 0 && !utf8.RuneStart(d.Raw[cut]); i++ {
		cut--
	}
	d.Raw = d.Raw[:cut]
}
