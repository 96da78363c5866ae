package cdr_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/cdr/cdrtest"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*cdr.Record)
		field  string // named in the error; "" for a valid record
	}{
		{"minimal", func(*cdr.Record) {}, ""},
		{"every disposition: no answer", func(r *cdr.Record) { r.Disposition = cdr.NoAnswer }, ""},
		{"every disposition: busy", func(r *cdr.Record) { r.Disposition = cdr.Busy }, ""},
		{"every disposition: failed", func(r *cdr.Record) { r.Disposition = cdr.Failed }, ""},
		{"every disposition: congestion", func(r *cdr.Record) { r.Disposition = cdr.Congestion }, ""},
		{"no start", func(r *cdr.Record) { r.Start = time.Time{} }, ""},
		{"start equals end", func(r *cdr.Record) { r.Start = r.End }, ""},
		{"billsec equals duration", func(r *cdr.Record) { r.Duration, r.Billsec = 60, 60 }, ""},
		{"longest switch and call id", func(r *cdr.Record) {
			r.Switch, r.CallID = strings.Repeat("s", cdr.MaxSwitchLen), strings.Repeat("c", cdr.MaxCallIDLen)
		}, ""},
		{"raw JSON", func(r *cdr.Record) { r.Raw = json.RawMessage(`{"a":[1,null]}`) }, ""},
		{"raw JSON with a Latin-1 byte (mended when stored)", func(r *cdr.Record) { r.Raw = json.RawMessage("{\"a\":\"\xe9\"}") }, ""},
		{"first of 1970", func(r *cdr.Record) {
			r.End = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
			r.Start = r.End
		}, ""},

		{"no switch", func(r *cdr.Record) { r.Switch = "" }, "switch"},
		{"switch too long", func(r *cdr.Record) { r.Switch = strings.Repeat("s", cdr.MaxSwitchLen+1) }, "switch"},
		{"no call id", func(r *cdr.Record) { r.CallID = "" }, "call_id"},
		{"call id too long", func(r *cdr.Record) { r.CallID = strings.Repeat("c", cdr.MaxCallIDLen+1) }, "call_id"},
		{"no end", func(r *cdr.Record) { r.End = time.Time{} }, "end"},
		{"end before 1970", func(r *cdr.Record) {
			r.End = time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC)
			r.Start = time.Time{}
		}, "end"},
		{"end after 9999", func(r *cdr.Record) { r.End = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, "end"},
		{"start after end", func(r *cdr.Record) { r.Start = r.End.Add(time.Microsecond) }, "start"},
		{"negative duration", func(r *cdr.Record) { r.Duration = -1 }, "duration"},
		{"negative billsec", func(r *cdr.Record) { r.Billsec = -1 }, "billsec"},
		{"billsec above duration", func(r *cdr.Record) { r.Duration, r.Billsec = 60, 61 }, "billsec"},
		{"duration beyond int32", func(r *cdr.Record) { r.Duration, r.Billsec = 1<<40, 0 }, "duration"},
		{"cause beyond int32", func(r *cdr.Record) { r.Cause = 1 << 40 }, "cause"},
		{"sip status beyond int32", func(r *cdr.Record) { r.SIPStatus = -1 << 40 }, "sip_status"},
		{"no disposition", func(r *cdr.Record) { r.Disposition = "" }, "disposition"},
		{"unknown disposition", func(r *cdr.Record) { r.Disposition = "answered" }, "disposition"},
		{"raw not JSON", func(r *cdr.Record) { r.Raw = json.RawMessage(`uniqueid=1,billsec=2`) }, "raw"},
		{"raw truncated", func(r *cdr.Record) { r.Raw = json.RawMessage(`{"a":`) }, "raw"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cdrtest.Minimal("pbx1", "a", "example.com", pipeBase)
			tt.mutate(&r)
			err := r.Validate()
			if tt.field == "" {
				if err != nil {
					t.Errorf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, cdr.ErrInvalidRecord) {
				t.Fatalf("err = %v, want ErrInvalidRecord", err)
			}
			if prefix := "cdr: invalid record: " + tt.field + ": "; !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("err = %q, want it to start %q", err, prefix)
			}
		})
	}
}
