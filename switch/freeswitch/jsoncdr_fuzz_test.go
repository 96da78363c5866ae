package freeswitch

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"

	"github.com/switchboard-voip/switchboard/cdr"
)

// checkRecord checks what the parser returned for outside input: an
// error about the record wraps ErrMalformedCDR; an accepted record is
// storable.
func checkRecord(t *testing.T, rec cdr.Record, err error) {
	t.Helper()
	if err != nil {
		if !errors.Is(err, ErrMalformedCDR) {
			t.Fatalf("error does not wrap ErrMalformedCDR: %v", err)
		}
		return
	}
	switch {
	case rec.Switch != testOpt.Switch || rec.CallID == "" || rec.LinkedID == "":
		t.Errorf("record without keys: %+v", rec)
	case rec.Start.IsZero() || rec.End.IsZero() || rec.End.Before(rec.Start):
		t.Errorf("times %v %v", rec.Start, rec.End)
	case rec.Duration < 0 || rec.Billsec < 0 || rec.Cause < 0 || rec.SIPStatus < 0:
		t.Errorf("negative numbers: %+v", rec)
	case rec.Disposition == "" || rec.Direction == "":
		t.Errorf("no disposition or direction: %+v", rec)
	case !json.Valid(rec.Raw):
		t.Errorf("raw is not JSON")
	}
}

// FuzzParseJSONCDR feeds damaged json_cdr bodies, seeded with the recorded
// ones and their encode-values=true forms.
func FuzzParseJSONCDR(f *testing.F) {
	for _, b := range recorded(f) {
		f.Add(b)
		f.Add(encodeValues(f, b))
	}
	f.Add([]byte(`{"variables":{"uuid":"u"},"callflow":{"caller_profile":{}},"callflow":[{"times":{"created_time":"1"}}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		rec, err := ParseJSONCDR(body, testOpt)
		checkRecord(t, rec, err)
	})
}

// FuzzParseJSONCDRPost feeds damaged POSTs in the three envelopes.
func FuzzParseJSONCDRPost(f *testing.F) {
	for _, b := range recorded(f) {
		f.Add("application/json", b)
		f.Add("application/x-www-form-urlencoded", []byte("cdr="+fsURLEncode(string(b))))
		f.Add("application/x-www-form-base64-encoded", []byte("cdr="+base64.StdEncoding.EncodeToString(b)))
	}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		rec, err := ParseJSONCDRPost(contentType, body, testOpt)
		checkRecord(t, rec, err)
	})
}
