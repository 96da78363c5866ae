package cdr_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/switchboard-voip/switchboard/cdr"
)

// gathered returns each series' value by "name{label=value}" (the
// histograms by their sample count).
func gathered(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name := mf.GetName()
			for _, l := range m.GetLabel() {
				name += "{" + l.GetName() + "=" + l.GetValue() + "}"
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				out[name] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[name] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[name] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

func TestPipelineMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	mem := newMemStore()
	var down atomic.Bool
	p := startPipeline(t, flaky(mem, &down, errRefused), cdr.PipelineConfig{Registerer: reg})
	put(t, p, pipeRecs(0, 10))
	put(t, p, pipeRecs(5, 15))
	bad := pipeRec(99)
	bad.CallID = ""
	put(t, p, []cdr.Record{bad})
	down.Store(true)
	put(t, p, pipeRecs(15, 20))

	const ns = "switchboard_cdr_"
	got := gathered(t, reg)
	want := map[string]float64{
		ns + "records_written_total":       15,
		ns + "duplicates_total":            5,
		ns + "dead_letters_total":          1,
		ns + "batches_total{target=store}": 3,
		ns + "batches_total{target=spool}": 1,
		ns + "database_up":                 0,
		ns + "queue_length":                0,
		ns + "spool_records":               5,
		ns + "hangup_to_queryable_seconds": 15,
		// Written legs only: duplicates and the spooled ones are not (yet) calls.
		"switchboard_calls_completed_total{cause_class=unknown}{direction=internal}{disposition=ANSWERED}{switch=pbx1}": 15,
		"switchboard_call_answered_seconds_total{direction=internal}{switch=pbx1}":                                      750,
	}
	// Every reason is exported at 0 from the start; no tariffs, no revenue.
	for _, r := range cdr.UnpricedReasons {
		want[ns+"unpriced_total{reason="+string(r)+"}"] = 0
	}
	for _, r := range cdr.SupplierUnpricedReasons {
		want[ns+"supplier_unpriced_total{reason="+string(r)+"}"] = 0
	}
	for name, v := range want {
		if got[name] != v {
			t.Errorf("%s = %v, want %v", name, got[name], v)
		}
	}
	if got[ns+"spool_bytes"] == 0 {
		t.Errorf("spool_bytes = 0 with a spool")
	}
	// Two batches and the failed attempt, then the drainer's retries.
	if got[ns+"batch_write_seconds"] < 3 {
		t.Errorf("batch_write_seconds has %v samples, want at least 3", got[ns+"batch_write_seconds"])
	}
	if len(got) != len(want)+2 {
		t.Errorf("%d series, want %d: %v", len(got), len(want)+2, got)
	}

	if _, err := cdr.NewPipeline(mem, nil, cdr.PipelineConfig{SpoolDir: t.TempDir(), Registerer: reg}); err == nil {
		t.Error("a second pipeline registered the same metrics")
	}
}

// TestCallMetrics: legs through a gateway feed ASR and ACD per gateway;
// duplicates do not count twice.
func TestCallMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	p := startPipeline(t, newMemStore(), cdr.PipelineConfig{Registerer: reg})
	legs := []cdr.Record{pipeRec(1), pipeRec(2), pipeRec(3)}
	for i := range legs {
		legs[i].Gateway, legs[i].Direction, legs[i].Cause = "gw1", cdr.DirectionOutbound, 16
	}
	legs[2].Disposition, legs[2].Billsec, legs[2].Cause = cdr.Busy, 0, 17
	// From outside through no provisioned gateway (a carrier calling a
	// DID): the unknown gateway. Internal legs name no gateway at all.
	outside, internal := pipeRec(4), pipeRec(5)
	outside.Direction, outside.Cause = cdr.DirectionInbound, 16
	internal.Direction, internal.Cause = cdr.DirectionInternal, 16
	legs = append(legs, outside, internal)
	put(t, p, legs)
	put(t, p, legs[:1]) // a duplicate
	got := gathered(t, reg)
	want := map[string]float64{
		"switchboard_gateway_calls_total{gateway=gw1}{outcome=answered}":                                               2,
		"switchboard_gateway_calls_total{gateway=gw1}{outcome=unanswered}":                                             1,
		"switchboard_gateway_answered_seconds_total{gateway=gw1}":                                                      100,
		"switchboard_gateway_calls_total{gateway=_unknown}{outcome=answered}":                                          1,
		"switchboard_gateway_answered_seconds_total{gateway=_unknown}":                                                 50,
		"switchboard_calls_completed_total{cause_class=normal}{direction=outbound}{disposition=ANSWERED}{switch=pbx1}": 2,
		"switchboard_calls_completed_total{cause_class=normal}{direction=outbound}{disposition=BUSY}{switch=pbx1}":     1,
	}
	for name, v := range want {
		if got[name] != v {
			t.Errorf("%s = %v, want %v", name, got[name], v)
		}
	}
	for name := range got {
		if strings.Contains(name, "{gateway=}") {
			t.Errorf("a series with an empty gateway: %s", name)
		}
	}
}

func TestCauseClass(t *testing.T) {
	for _, tc := range []struct {
		cause int
		want  string
	}{{0, "unknown"}, {1, "normal"}, {16, "normal"}, {17, "normal"}, {31, "normal"}, {34, "resource"},
		{38, "resource"}, {50, "service"}, {65, "implementation"}, {88, "invalid"}, {102, "protocol"},
		{127, "interworking"}, {128, "unknown"}, {-1, "unknown"}} {
		if got := cdr.CauseClass(tc.cause); got != tc.want {
			t.Errorf("CauseClass(%d) = %s, want %s", tc.cause, got, tc.want)
		}
	}
}

// loadGolden reads CDRs an adapter's golden file holds: one record or a
// list of them.
func loadGolden(t *testing.T, path string) []cdr.Record {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var recs []cdr.Record
	if err := json.Unmarshal(b, &recs); err != nil {
		var one cdr.Record
		if err := json.Unmarshal(b, &one); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		recs = []cdr.Record{one}
	}
	return recs
}

// TestCallMetricsCountCalls: the call counters count calls, not legs,
// on the CDRs the adapters made of real switches' calls: Asterisk's
// events scenario (seven calls in eleven legs, one through a gateway) and
// FreeSWITCH's json_cdr recordings (six calls in nine legs), whatever
// order the legs are stored in, duplicates and all. A callee leg stored
// without its caller leg counts no call.
func TestCallMetricsCountCalls(t *testing.T) {
	fsFiles, err := filepath.Glob("../switch/freeswitch/testdata/cdr/*.golden.json")
	if err != nil || len(fsFiles) != 9 {
		t.Fatalf("FreeSWITCH goldens: %v %v", fsFiles, err)
	}
	var fs []cdr.Record
	for _, f := range fsFiles {
		fs = append(fs, loadGolden(t, f)...)
	}
	// A call through a gateway in FreeSWITCH's shape: call-a's legs, the
	// b-leg to the gateway, both legs naming it.
	for _, r := range fs[:2] {
		r.CallID, r.LinkedID = "gw-"+r.CallID, "gw-"+r.LinkedID
		r.Direction, r.Gateway = cdr.DirectionOutbound, "carrier"
		fs = append(fs, r)
	}
	ast := loadGolden(t, "../switch/asterisk/testdata/events/scenario.cdrs.golden.json")
	if len(ast) != 11 {
		t.Fatalf("Asterisk scenario: %d legs, want 11", len(ast))
	}
	// The callee leg of a call whose caller leg is never stored.
	orphan := fs[1]
	orphan.CallID, orphan.LinkedID = "orphan-b", "orphan-a"

	for _, tc := range []struct {
		name  string
		legs  []cdr.Record
		calls map[[3]string]float64 // direction, disposition, cause class
		secs  map[string]float64    // by direction
		gw    map[string]float64    // "gateway outcome", and "gateway seconds"
	}{{
		name: "asterisk",
		legs: ast,
		calls: map[[3]string]float64{
			{"internal", "ANSWERED", "normal"}: 2, {"internal", "ANSWERED", "unknown"}: 1, {"internal", "FAILED", "normal"}: 1,
			{"internal", "BUSY", "normal"}: 1, {"internal", "NO ANSWER", "normal"}: 1, {"outbound", "ANSWERED", "normal"}: 1,
		},
		secs: map[string]float64{"internal": 15, "outbound": 3},
		gw:   map[string]float64{"gateway answered": 1, "gateway seconds": 3},
	}, {
		name: "freeswitch",
		legs: append(fs, orphan),
		calls: map[[3]string]float64{
			{"internal", "ANSWERED", "normal"}: 2, {"internal", "FAILED", "normal"}: 2, {"internal", "BUSY", "normal"}: 1,
			{"internal", "NO ANSWER", "normal"}: 1, {"outbound", "ANSWERED", "normal"}: 1,
		},
		secs: map[string]float64{"internal": 11, "outbound": 6},
		gw:   map[string]float64{"carrier answered": 1, "carrier seconds": 6},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			p := startPipeline(t, newMemStore(), cdr.PipelineConfig{Registerer: reg})
			legs := slices.Clone(tc.legs)
			slices.Reverse(legs) // callee legs before their callers'
			for _, r := range legs {
				put(t, p, []cdr.Record{r})
			}
			put(t, p, tc.legs) // all duplicates now
			got := gathered(t, reg)
			sw := legs[0].Switch
			want := map[string]float64{}
			for k, v := range tc.calls {
				want[fmt.Sprintf("switchboard_calls_completed_total{cause_class=%s}{direction=%s}{disposition=%s}{switch=%s}",
					k[2], k[0], k[1], sw)] = v
			}
			for d, v := range tc.secs {
				want[fmt.Sprintf("switchboard_call_answered_seconds_total{direction=%s}{switch=%s}", d, sw)] = v
			}
			for k, v := range tc.gw {
				gw, what, _ := strings.Cut(k, " ")
				if what == "seconds" {
					want[fmt.Sprintf("switchboard_gateway_answered_seconds_total{gateway=%s}", gw)] = v
				} else {
					want[fmt.Sprintf("switchboard_gateway_calls_total{gateway=%s}{outcome=%s}", gw, what)] = v
				}
			}
			for name, v := range got {
				if strings.HasPrefix(name, "switchboard_call") || strings.HasPrefix(name, "switchboard_gateway_") {
					if want[name] != v {
						t.Errorf("%s = %v, want %v", name, v, want[name])
					}
				}
			}
			for name, v := range want {
				if _, ok := got[name]; !ok {
					t.Errorf("%s missing, want %v", name, v)
				}
			}
		})
	}
}
