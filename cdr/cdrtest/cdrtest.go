// Package cdrtest holds what the tests and benchmarks of the CDR packages
// share: a realistic record to write in bulk.
package cdrtest

import (
	"fmt"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
)

// Leg is a realistic leg numbered i, in domain, ending at end: every text
// field set and a raw payload of the size mod_json_cdr sends after
// trimming. Distinct i give distinct keys.
func Leg(i int, domain string, end time.Time) cdr.Record {
	answer := end.Add(-40 * time.Second)
	return cdr.Record{
		Switch: "pbx1", CallID: fmt.Sprintf("%08d-4c1e-4b7a-9a0e-5f1d2c3b4a59", i), LinkedID: fmt.Sprintf("%08d", i),
		Direction: cdr.DirectionOutbound, Domain: domain, Account: fmt.Sprintf("u%d", i%50),
		Gateway: "carrier-a", CallerNumber: "+33123456789", CallerName: "Alice",
		Dialed: "0049301234567", Destination: "+49301234567",
		Start: end.Add(-time.Minute), Answer: &answer, End: end,
		Duration: 60, Billsec: 40, Disposition: cdr.Answered, Cause: 16, CauseText: "NORMAL_CLEARING",
		SIPStatus: 200, Codec: "PCMA", UserAgent: "Yealink SIP-T54W",
		Raw: []byte(`{"variables":{"uuid":"` + fmt.Sprint(i) + `","sip_hangup_disposition":"send_bye","billsec":"40","read_codec":"PCMA","sip_user_agent":"Yealink SIP-T54W"}}`),
	}
}

// Minimal is the smallest valid leg: a key, a domain, an answered minute
// ending at end.
func Minimal(sw, callID, domain string, end time.Time) cdr.Record {
	return cdr.Record{
		Switch: sw, CallID: callID, Domain: domain,
		Start: end.Add(-time.Minute), End: end,
		Direction: cdr.DirectionInternal, Disposition: cdr.Answered,
	}
}
