package esltest

import (
	"embed"
	"io/fs"
	"path"
	"strconv"
	"sync"
)

// The recordings of FreeSWITCH 1.10 (copied from
// ../shared/testdata/freeswitch), stored here once: the fake serves them
// and package freeswitch's tests read them through Recorded and
// RecordedNames (its golden files stay beside its tests).
// testdata/scenario-json.txt is only read by esltest's own tests, so it is
// not embedded. testdata/did-external-*: a carrier (no provisioned gateway)
// calling a DID on the external profile of FreeSWITCH 1.10.12, recorded by
// TestLiveCarrierDID (SWITCHBOARD_TEST_FREESWITCH_RECORD): each leg's
// mod_json_cdr body (*-leg.json) and CHANNEL_HANGUP_COMPLETE as JSON
// headers (*-leg.event.json). testdata/authz-prepaid-*: a phone's call
// through a gateway authorized for 5 s (0.05 EUR at 0.60/min) and hung up
// by the node's sched_hangup, FreeSWITCH 1.10.12 (fs-media), recorded by
// cmd/switchboard's TestLiveDaemonAuthzKill (SWITCHBOARD_TEST_AUTHZ_RECORD):
// each leg's mod_json_cdr body.
//
//go:embed testdata/vm-*.txt testdata/api-*.txt testdata/bgapi-*.txt testdata/error-*.txt testdata/scenario-plain.txt testdata/call-*.json testdata/did-*.json testdata/authz-*.json
var recorded embed.FS

// Recorded returns a recorded file of testdata/ (copied from
// ../shared/testdata/freeswitch: "api-status.txt",
// "scenario-plain.txt", "call-a-1001-to-1002-a-leg.json"…); it panics if
// there is none.
func Recorded(name string) []byte {
	b, err := recorded.ReadFile("testdata/" + name)
	if err != nil {
		panic("esltest: " + err.Error())
	}
	return b
}

// RecordedNames returns the names of the recorded files matching pattern
// (path.Match syntax, e.g. "call-*-leg.json"), sorted.
func RecordedNames(pattern string) []string {
	paths, err := fs.Glob(recorded, "testdata/"+pattern)
	if err != nil {
		panic("esltest: " + err.Error())
	}
	names := make([]string, len(paths))
	for i, p := range paths {
		names[i] = path.Base(p)
	}
	return names
}

// RecordedBody returns the body of a recorded api/response file (the bytes
// after the frame's Content-Length header block).
func RecordedBody(name string) []byte {
	fs, err := splitFrames(Recorded(name))
	if err != nil || len(fs) == 0 {
		panic("esltest: " + name + ": not a recorded frame")
	}
	return fs[0].body
}

// scenario is the recorded plain event stream, parsed once.
var scenario = sync.OnceValue(func() (s struct {
	bodies [][]byte
	bySeq  map[int]*event
}) {
	fs, err := splitFrames(Recorded("scenario-plain.txt"))
	if err != nil {
		panic(err)
	}
	s.bySeq = map[int]*event{}
	for _, f := range fs {
		if f.get("Content-Type") != "text/event-plain" {
			continue
		}
		s.bodies = append(s.bodies, f.body)
		e := mustEvent(f.body)
		n, err := strconv.Atoi(e.get("Event-Sequence"))
		if err != nil {
			panic("esltest: recorded event without Event-Sequence")
		}
		s.bySeq[n] = e
	}
	return s
})

// Scenario returns every event body of the recorded scenario-plain.txt
// (the bodies of its text/event-plain frames), in the order received,
// verbatim; Push replays them.
func (s *Server) Scenario() [][]byte {
	return ScenarioEvents()
}

// ScenarioEvents is Scenario without a server.
func ScenarioEvents() [][]byte {
	src := scenario().bodies
	out := make([][]byte, len(src))
	for i, b := range src {
		out[i] = append([]byte(nil), b...)
	}
	return out
}

// recordedEvent returns a copy of the recorded event with that
// Event-Sequence.
func recordedEvent(seq int) *event {
	e, ok := scenario().bySeq[seq]
	if !ok {
		panic("esltest: no recorded event " + strconv.Itoa(seq))
	}
	return e.clone()
}

// Recorded events used as templates, by Event-Sequence.
const (
	seqAPIWithArg       = 425 // API sofia status
	seqGatewayStateDown = 431
	seqGatewayDelete    = 432
	seqReloadXML        = 434
	seqGatewayAdd       = 436
	seqGatewayTrying    = 438
	seqGatewayRegister  = 439
	seqGatewayReged     = 440
	seqHeartbeat        = 441
	seqRegister1001     = 448
	seqBackgroundJob    = 740
	seqUnregister1001   = 746
	seqExpire1002       = 758
	seqGatewayFailed    = 764
)
