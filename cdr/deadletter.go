package cdr

import "time"

// DeadLetter is a CDR, or something that claimed to be one, that could not
// be stored: malformed, truncated, or refused by validation. It is kept with
// the reason instead of being dropped, so an operator can see what a switch
// sent and replay it once fixed.
type DeadLetter struct {
	ID         int64     `json:"id" db:"id"`
	Source     string    `json:"source" db:"source"` // e.g. "freeswitch:fs1 json_cdr", "import Master.csv:17"
	Reason     string    `json:"reason" db:"reason"`
	Raw        string    `json:"raw" db:"raw"` // the bytes as received (as text, invalid UTF-8 replaced)
	ReceivedAt time.Time `json:"received_at" db:"received_at"`
}
