package sip

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"
)

// memoryRun is what measureMemory saw.
type memoryRun struct {
	targets   int
	base      uint64        // live heap before SetTargets
	setBytes  uint64        // heap taken by SetTargets, before any probe
	heaps     []uint64      // least live heap seen in each cycle after the first
	probes    int           // answered probes in all
	cpu       time.Duration // CPU spent in the cycle after the warm-up (no forced GC), over cpuProbes
	cpuProbes int
	goroutine []int // fewest goroutines seen in each cycle
}

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// measureMemory probes n contacts (half of them with a NAT address) on two
// sipp UASes every interval, for a warm-up cycle and then cycles more, and
// reads the live heap during each. SIP_HEAP_PROFILES=dir writes a heap
// profile per cycle there, to compare with go tool pprof -base.
func measureMemory(t testing.TB, n int, interval time.Duration, cycles int, measureCPU bool) memoryRun {
	uas := []*sipp{startSipp(t, UDP, "options_uas.xml"), startSipp(t, UDP, "options_uas.xml")}
	targets := make([]Target, n)
	for i := range targets {
		s := uas[i%2]
		targets[i] = Target{
			Kind: KindContact, Domain: "acme.example",
			Name: fmt.Sprintf("u%d@acme.example sip:u%d@192.168.%d.%d:5060", i, i, i/250%250, i%250),
			URI:  fmt.Sprintf("sip:u%d@192.168.%d.%d:5060", i, i/250%250, i%250),
			Addr: s.addr(),
		}
		if i%4 == 0 {
			targets[i].URI, targets[i].Addr = s.uri(), ""
		}
	}
	cfg := Config{Interval: interval, Timeout: interval / 2, ListenAddr: "127.0.0.1"}
	p, err := NewProber(withTestLogger(t, cfg))
	if err != nil {
		t.Fatal(err)
	}
	run := memoryRun{targets: n}
	run.base = liveHeap()
	p.SetTargets(targets)
	run.setBytes = liveHeap() - run.base
	stop := runUntilStopped(t, p)

	// Warm-up: every target answered once.
	deadline := time.Now().Add(3 * interval)
	for p.probesAnswered() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d targets answered in the first %v", p.probesAnswered(), n, 3*interval)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if measureCPU {
		cpu0, probes0 := cpuTime(), p.probesAnswered()
		time.Sleep(interval)
		run.cpu, run.cpuProbes = cpuTime()-cpu0, p.probesAnswered()-probes0
	}
	// Probes in flight hold requests, transactions and timers: each
	// cycle's figure is the least of five readings, the heap between
	// probes, which is what must not grow.
	for range cycles {
		heap, gor := uint64(1<<63), 1<<30
		for range 5 {
			time.Sleep(interval / 5)
			heap, gor = min(heap, liveHeap()), min(gor, runtime.NumGoroutine())
		}
		run.heaps = append(run.heaps, heap)
		run.goroutine = append(run.goroutine, gor)
		if d := os.Getenv("SIP_HEAP_PROFILES"); d != "" {
			f, _ := os.Create(fmt.Sprintf("%s/heap%d.pprof", d, len(run.heaps)))
			_ = pprof.WriteHeapProfile(f)
			f.Close()
		}
	}
	run.probes = p.probesAnswered()
	if os.Getenv("SIP_DUMP_GOROUTINES") != "" {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		_ = os.WriteFile(os.Getenv("SIP_DUMP_GOROUTINES"), buf, 0o644)
	}
	stop()
	if min := n * (cycles + 1) * 9 / 10; run.probes < min {
		t.Errorf("%d answered probes over %d cycles of %d targets, want at least %d", run.probes, cycles+1, n, min)
	}
	return run
}

// TestMemoryBounded: probing 10,000 targets (fewer under the race
// detector) does not grow the heap from one cycle to the next.
func TestMemoryBounded(t *testing.T) {
	n := 10000
	if raceEnabled {
		n = 2000
	}
	run := measureMemory(t, n, time.Second, 3, false)
	t.Logf("%d targets: SetTargets %d B/target; live heap per cycle %v; goroutines %v; %d probes",
		n, run.setBytes/uint64(n), run.heaps, run.goroutine, run.probes)
	first := run.heaps[0]
	for i, h := range run.heaps[1:] {
		// Allow 1 MB or 5% of noise: what matters is no growth per cycle.
		if h > first+max(1<<20, first/20) {
			t.Errorf("live heap grew from %d B after cycle 1 to %d B after cycle %d", first, h, i+2)
		}
	}
	for i, g := range run.goroutine[1:] {
		if g > run.goroutine[0]+100 {
			t.Errorf("goroutines grew from %d to %d by cycle %d", run.goroutine[0], g, i+2)
		}
	}
}

// BenchmarkMemory10k reports the memory of 10,000 targets probed every
// second: bytes per target held by SetTargets, the live heap after probing
// (state, queue, sipgo, buffers), its growth from the first cycle to the
// last, and the CPU per 1,000 probes of the whole scheduled prober (the
// cycle after the warm-up, 10,000 probes/s). b.N is ignored: one run of five cycles, so run
// it with -benchtime 1x.
func BenchmarkMemory10k(b *testing.B) {
	const n = 10000
	run := measureMemory(b, n, time.Second, 5, true)
	last := run.heaps[len(run.heaps)-1] - run.base
	b.ReportMetric(float64(run.setBytes)/n, "B/target-set")
	b.ReportMetric(float64(last)/n, "B/target-live")
	b.ReportMetric(float64(last)/(1<<20), "MB-live-heap")
	b.ReportMetric(float64(int64(run.heaps[len(run.heaps)-1])-int64(run.heaps[0]))/(1<<10), "KB-growth-4-cycles")
	b.ReportMetric(float64(run.cpu.Microseconds())/float64(run.cpuProbes), "cpu-ms/1kprobes-scheduled")
}
