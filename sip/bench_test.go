package sip

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	siplib "github.com/emiago/sipgo/sip"
)

// cpuTime is this process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var discardLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// BenchmarkOptions measures the OPTIONS transactions per second one
// prober sustains against sipp UASes on loopback, with 64 probes in
// flight, and the prober's CPU per 1,000 probes (sipp's CPU not counted).
// udp-1uas faces the same single UAS as BenchmarkSippCeiling, sipp's own
// OPTIONS load, which is the ceiling to compare with in the same run.
func BenchmarkOptions(b *testing.B) {
	for _, bc := range []struct {
		name string
		tp   Transport
		uas  int
	}{{"udp-1uas", UDP, 1}, {"udp-2uas", UDP, 2}, {"tcp-2uas", TCP, 2}} {
		b.Run(bc.name, func(b *testing.B) {
			var specs []targetSpec
			for range bc.uas {
				s := startSipp(b, bc.tp, "options_uas.xml")
				spec, err := parseTarget(s.uri(), "", bc.tp)
				if err != nil {
					b.Fatal(err)
				}
				specs = append(specs, spec)
			}
			p, err := NewProber(Config{ListenAddr: "127.0.0.1", Logger: discardLogger})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			rs, err := p.start(ctx)
			if err != nil {
				b.Fatal(err)
			}
			rs.ctx = ctx
			var conns sync.Map
			defer func() {
				conns.Range(func(c, _ any) bool {
					closeStream(c.(siplib.Connection))
					return true
				})
				rs.close()
			}()

			const inFlight = 64
			var next, answeredN atomic.Int64
			var wg sync.WaitGroup
			cpu0, t0 := cpuTime(), time.Now()
			b.ResetTimer()
			for w := range inFlight {
				wg.Go(func() {
					for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
						o, conn := p.options(ctx, rs, specs[(int(i)+w)%len(specs)], 2*time.Second)
						if o.answered {
							answeredN.Add(1)
						}
						if conn != nil {
							conns.LoadOrStore(conn, true)
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			elapsed, cpu := time.Since(t0), cpuTime()-cpu0
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "probes/s")
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-ms/1kprobes")
			if lost := int64(b.N) - answeredN.Load(); lost > int64(b.N)/100 {
				b.Errorf("%d of %d probes unanswered", lost, b.N)
			}
		})
	}
}

// BenchmarkSippCeiling is the ceiling for BenchmarkOptions: sipp itself
// as the OPTIONS client (testdata/sipp/options_uac.xml, in the manner of
// "sipp -sn uac"), 64 calls in flight against the same UAS, at a rate
// higher than it can reach. It reports sipp's achieved rate and CPU.
func BenchmarkSippCeiling(b *testing.B) {
	path := requireSipp(b)
	uas := startSipp(b, UDP, "options_uas.xml")
	scen, err := filepath.Abs(filepath.Join("testdata", "sipp", "options_uac.xml"))
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	b.ResetTimer()
	cmd := exec.Command(path, uas.addr(), "-sf", scen, "-t", "u1", "-i", "127.0.0.1", "-p", strconv.Itoa(freePort(b)),
		"-r", "100000", "-l", "64", "-m", strconv.Itoa(b.N), "-nostdin", "-timeout", "120s",
		"-max_recv_loops", "10000", "-max_sched_loops", "10000")
	cmd.Dir = dir
	out, err := os.Create(filepath.Join(dir, "sipp.out"))
	if err != nil {
		b.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	t0 := time.Now()
	err = cmd.Run()
	elapsed := time.Since(t0)
	b.StopTimer()
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "sipp.out"))
		b.Fatalf("sipp uac: %v\n%s", err, log)
	}
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "probes/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-ms/1kprobes")
}
