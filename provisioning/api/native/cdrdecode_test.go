package native

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
)

// FuzzDecodeCDRs feeds submissions, outside input, to the decoder: it
// never panics, refuses with the envelope, and whatever it accepts the
// store's validation accepts too and survives a round trip.
func FuzzDecodeCDRs(f *testing.F) {
	for _, seed := range []string{
		`{"switch":"s","call_id":"c","end":"2025-01-01T00:00:00Z","disposition":"ANSWERED"}`,
		`[{"switch":"s","call_id":"c","start":"2025-01-01T00:00:00Z","end":"2025-01-01T00:01:00Z","duration":60,"billsec":30,` +
			`"disposition":"NO ANSWER","direction":"inbound","answer":null,"raw":{"a":[1,2]}}]`,
		`[{"switch":"s","call_id":"c","end":"2025-01-01T00:00:00Z","disposition":"BUSY","raw":null},5]`,
		`[{"id":1}]`, `[{"end":"yesterday"}]`, `[`, `[]`, `{}`, `null`, `"x"`, "[\xff]",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		recs, err := decodeCDRs(body)
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) || ae.Status < 400 || ae.Status > 499 || ae.Message == "" {
				t.Fatalf("refusal outside the envelope: %#v", err)
			}
			return
		}
		if len(recs) > maxCDRsPerPost {
			t.Fatalf("%d records accepted", len(recs))
		}
		for i := range recs {
			if err := recs[i].Validate(); err != nil {
				t.Fatalf("record %d accepted but invalid: %v", i, err)
			}
			b, err := json.Marshal(recs[i])
			if err != nil {
				t.Fatalf("record %d does not encode: %v", i, err)
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			delete(m, "id")
			b, _ = json.Marshal(m)
			again, err := decodeCDRs(b)
			if err != nil || len(again) != 1 {
				t.Fatalf("record %d does not decode again: %v\n%s", i, err, b)
			}
		}
	})
}

// BenchmarkDecodeCDRs decodes a full submission of realistic records.
func BenchmarkDecodeCDRs(b *testing.B) {
	one := `{"switch":"fs1","call_id":"6f1c2a4e-9b1d-4c1e-8a7b-%05d","linked_id":"6f1c2a4e","direction":"outbound",` +
		`"domain":"a.example.com","account":"1001","gateway":"gw1","caller_number":"+15551234567","caller_name":"Alice",` +
		`"dialed":"00442071234567","destination":"+442071234567","start":"2025-03-14T15:09:26.535897Z",` +
		`"answer":"2025-03-14T15:09:30Z","end":"2025-03-14T15:10:26Z","duration":60,"billsec":56,"disposition":"ANSWERED",` +
		`"cause":16,"cause_text":"NORMAL_CLEARING","sip_status":200,"codec":"PCMU","user_agent":"Yealink"}`
	body := []byte("[")
	for i := range maxCDRsPerPost {
		if i > 0 {
			body = append(body, ',')
		}
		body = fmt.Appendf(body, one, i)
	}
	body = append(body, ']')
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := decodeCDRs(body); err != nil {
			b.Fatal(err)
		}
	}
}
