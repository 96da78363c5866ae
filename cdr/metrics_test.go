package cdr_test

import (
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
