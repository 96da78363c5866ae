package freeswitch

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/switch/presence"
)

// throughputEnv turns TestLiveEventThroughput on: the number of call legs
// to inject (3 events each). It loads the node hard, so it is apart from
// the other live tests.
const throughputEnv = "SWITCHBOARD_TEST_FREESWITCH_THROUGHPUT"

// TestLiveEventThroughput measures the adapter consuming a real
// FreeSWITCH's event socket at full speed: a second ESL connection fires
// the recorded events of one leg (CHANNEL_CREATE, CHANNEL_ANSWER,
// CHANNEL_HANGUP_COMPLETE, with a fresh Unique-ID per leg) with
// `sendevent`, as fast as the node takes them; FreeSWITCH numbers, dates
// and serialises each, and writes it to the adapter's connection as it
// would a channel's. The clock runs from the first command to the last
// leg's CDR. The process's CPU includes the injecting connection (a copy
// of pre-rendered bytes).
func TestLiveEventThroughput(t *testing.T) {
	node := requireLiveNode(t)
	legs, _ := strconv.Atoi(os.Getenv(throughputEnv))
	if legs <= 0 {
		t.Skipf("set %s=<legs> (3 events each) to load the node", throughputEnv)
	}
	leg := recordedLegEvents(t, "c0ac0e89-8277-4837-b5d4-83444258b662")
	var cmds []byte
	for i := range legs {
		id := fmt.Sprintf("%08x-5b5b-4c4c-8d8d-%012x", time.Now().Unix()&0xffffffff, i)
		for _, ev := range leg {
			cmds = append(cmds, strings.ReplaceAll(ev, "c0ac0e89-8277-4837-b5d4-83444258b662", id)...)
		}
	}

	sink, inj, fr := startThroughputRig(t, node)
	replies := countReplies(fr, legs*len(leg))
	cpu0 := processCPU(t)
	nodeCPU0 := nodeCPU(t, node)
	start := time.Now()
	if _, err := inj.Write(cmds); err != nil {
		t.Fatal(err)
	}
	injected := time.Since(start)
	waitCDRs(t, sink, legs)
	elapsed := time.Since(start)
	cpu := processCPU(t) - cpu0
	nodeCPU := nodeCPU(t, node) - nodeCPU0
	if bad := <-replies; bad > 0 {
		t.Errorf("%d sendevent commands refused", bad)
	}
	events := legs * len(leg)
	t.Logf("%d events (%d legs, %.1f MB of commands) injected in %v; all consumed in %v: %.0f events/s, %.0f legs/s; "+
		"this process %.1f CPU-ms per 1,000 events (injection included), FreeSWITCH %.1f CPU-ms per 1,000 events",
		events, legs, float64(len(cmds))/1e6, injected.Round(time.Millisecond), elapsed.Round(time.Millisecond),
		float64(events)/elapsed.Seconds(), float64(legs)/elapsed.Seconds(),
		float64(cpu.Microseconds())/float64(events), float64(nodeCPU.Microseconds())/float64(events))
}

// startThroughputRig runs an adapter on the live node, its CDRs into a
// counting sink, until the test ends; inj is a second ESL connection,
// logged in, to load the node through (its replies read from fr).
func startThroughputRig(t *testing.T, node liveNode) (sink *countingSink, inj net.Conn, fr *frameReader) {
	a, err := New(Config{Name: node.Name, Addr: node.ESL, Password: node.Password, Domain: node.Domain,
		ReconcileEvery: time.Hour, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	view := presence.New()
	sink = &countingSink{kick: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = view.Run(ctx) })
	wg.Go(func() { _ = a.WatchPresence(ctx, view.Feed(node.Name)) })
	wg.Go(func() { _ = a.StreamCDRs(ctx, sink) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	waitFor(t, 10*time.Second, "the adapter to connect", func() bool {
		for _, s := range view.Switches() {
			if s.Connected {
				return true
			}
		}
		return false
	})
	inj, err = net.Dial("tcp", node.ESL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inj.Close() })
	lctx, lcancel := context.WithTimeout(ctx, 5*time.Second)
	defer lcancel()
	fr, err = login(lctx, inj, eslOptions{addr: node.ESL, password: node.Password, dialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return sink, inj, fr
}

// waitCDRs waits for n CDRs, failing after 30 s without one.
func waitCDRs(t *testing.T, sink *countingSink, n int) {
	for sink.count() < n {
		select {
		case <-sink.kick:
		case <-time.After(30 * time.Second):
			t.Fatalf("%d CDRs of %d legs after 30 s without progress", sink.count(), n)
		}
	}
}

// countReplies reads n command replies and then sends how many of them
// were not +OK.
func countReplies(fr *frameReader, n int) <-chan int {
	out := make(chan int, 1)
	go func() {
		got, bad := 0, 0
		for got < n {
			f, err := fr.next()
			if err != nil {
				break
			}
			if f.contentType == ctCommandReply {
				got++
				if !strings.HasPrefix(f.replyText, "+OK") {
					bad++
				}
			}
		}
		out <- bad
	}()
	return out
}

// recordedLegEvents renders the recorded CHANNEL_CREATE, CHANNEL_ANSWER
// and CHANNEL_HANGUP_COMPLETE of one leg as sendevent commands: the
// headers FreeSWITCH adds itself (Event-Name, Core-UUID, FreeSWITCH-*,
// Event-Date-*, Event-Calling-*, Event-Sequence) left out, values decoded
// (FreeSWITCH encodes them again) unless they hold a line break.
func recordedLegEvents(t *testing.T, id string) []string {
	var out []string
	bodies, err := eslScenarioBodies()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bodies {
		ev, err := ParsePlainEvent(b)
		if err != nil {
			t.Fatal(err)
		}
		switch ev.Name() {
		case "CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_HANGUP_COMPLETE":
		default:
			continue
		}
		if ev.Get(hdrUniqueID) != id {
			continue
		}
		var cmd strings.Builder
		cmd.WriteString("sendevent " + ev.Name() + "\n")
		for line := range strings.Lines(string(b)) {
			line = strings.TrimRight(line, "\n")
			k, v, ok := strings.Cut(line, ": ")
			if !ok || k == "Event-Name" || k == "Core-UUID" || k == "Event-Sequence" || k == "Content-Length" ||
				strings.HasPrefix(k, "FreeSWITCH-") || strings.HasPrefix(k, "Event-Date-") || strings.HasPrefix(k, "Event-Calling-") {
				continue
			}
			if d := unescapeValue(v); !strings.ContainsAny(d, "\r\n") {
				v = d
			}
			cmd.WriteString(k + ": " + v + "\n")
		}
		cmd.WriteString("\n")
		out = append(out, cmd.String())
	}
	if len(out) != 3 {
		t.Fatalf("%d recorded events of leg %s, want 3", len(out), id)
	}
	return out
}

// processCPU is this process's user+system CPU time.
func processCPU(t *testing.T) time.Duration { return cpuTimeOf(t, "self") }

// nodeCPU is the FreeSWITCH process's CPU time (from its pid file), 0
// without one.
func nodeCPU(t *testing.T, node liveNode) time.Duration {
	if node.PIDFile == "" {
		return 0
	}
	pid, err := os.ReadFile(node.PIDFile)
	if err != nil {
		return 0
	}
	return cpuTimeOf(t, strings.TrimSpace(string(pid)))
}

// cpuTimeOf reads utime+stime of /proc/<pid>/stat.
func cpuTimeOf(t *testing.T, pid string) time.Duration {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// callRateEnv turns TestLiveCallThroughput on: "<calls/s>x<seconds>".
const callRateEnv = "SWITCHBOARD_TEST_FREESWITCH_CALLRATE"

// TestLiveCallThroughput measures the adapter on real calls: loopback
// calls (`bgapi originate loopback/answer\,hangup/default/inline
// &park()`: two channels, each created, answered and hung up at once)
// started at a steady rate, each channel's CREATE, ANSWER and
// HANGUP_COMPLETE consumed and its CDR made. The test answers the node's
// xml_curl lookups "not found" and its json_cdr posts 200 on node.HTTP
// (mod_json_cdr holds a channel until its post is answered). For the
// run it raises the node's sessions-per-second limit and lowers its log
// level to warning, and sets both back after.
func TestLiveCallThroughput(t *testing.T) {
	node := requireLiveNode(t)
	var rate, secs int
	if _, err := fmt.Sscanf(os.Getenv(callRateEnv), "%dx%d", &rate, &secs); err != nil || rate <= 0 || secs <= 0 {
		t.Skipf("set %s=<calls/s>x<seconds> to load the node with loopback calls", callRateEnv)
	}
	ln := listenRetry(t, node.HTTP)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if strings.HasSuffix(r.URL.Path, "/xml-curl") {
			w.Header().Set("Content-Type", "text/xml")
			_, _ = io.WriteString(w, `<document type="freeswitch/xml"><section name="result"><result status="not found"/></section></document>`)
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	sps := eslCommand(t, node, "api fsctl sps")
	if i := strings.Index(sps, "sessions per second: "); i >= 0 {
		var was int
		if _, err := fmt.Sscan(sps[i+len("sessions per second: "):], &was); err == nil {
			defer eslCommand(t, node, fmt.Sprintf("api fsctl sps %d", was))
		}
	}
	// FreeSWITCH refills its per-second allowance from its timer thread,
	// once a second and late on a loaded machine: a limit just above the
	// rate still throttles, and the new limit counts from the next refill.
	eslCommand(t, node, "api fsctl sps 1000000")
	time.Sleep(1500 * time.Millisecond)
	// fsctl loglevel without a level disables logging (it does not read
	// it): the level set back is the configured one.
	defer eslCommand(t, node, "api fsctl loglevel debug")
	eslCommand(t, node, "api fsctl loglevel warning")

	calls := rate * secs
	sink, inj, fr := startThroughputRig(t, node)
	replies := countReplies(fr, calls)
	cpu0, nodeCPU0 := processCPU(t), nodeCPU(t, node)
	start := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	sent := 0
	for sent < calls {
		<-tick.C
		due := min(calls, int(time.Since(start).Seconds()*float64(rate)))
		var b strings.Builder
		for ; sent < due; sent++ {
			b.WriteString("bgapi originate loopback/answer\\,hangup/default/inline &park()\n\n")
		}
		if _, err := io.WriteString(inj, b.String()); err != nil {
			t.Fatal(err)
		}
	}
	tick.Stop()
	offered := time.Since(start)
	legs := 2 * calls
	waitCDRs(t, sink, legs)
	elapsed := time.Since(start)
	cpu, nodeCPU := processCPU(t)-cpu0, nodeCPU(t, node)-nodeCPU0
	if bad := <-replies; bad > 0 {
		t.Errorf("%d originates refused", bad)
	}
	events := 3 * legs
	t.Logf("%d calls offered at %d/s in %v, %d legs' events (%d) all consumed in %v: %.0f events/s, %.0f legs/s; "+
		"this process %.1f CPU-ms per 1,000 events, FreeSWITCH %.1f CPU-ms per 1,000 events",
		calls, rate, offered.Round(time.Millisecond), legs, events, elapsed.Round(time.Millisecond),
		float64(events)/elapsed.Seconds(), float64(legs)/elapsed.Seconds(),
		float64(cpu.Microseconds())/float64(events), float64(nodeCPU.Microseconds())/float64(events))
}
