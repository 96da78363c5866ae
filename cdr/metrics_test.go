package cdr_test

import (
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
