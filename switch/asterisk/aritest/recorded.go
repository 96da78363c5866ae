package aritest

import (
	"bytes"
	"embed"
	"encoding/json"
	"slices"
	"strings"
)

// The recordings of Asterisk 23.4.1 (copied from
// ../shared/testdata/asterisk; application-*-endpoint-pjsip.json were
// taken from the live node of TestLive, the application renamed "live"),
// stored here once: the fake serves them and
// package asterisk's tests read them through Recorded (its golden files
// stay beside its tests).
//
//go:embed testdata
var recorded embed.FS

// Recorded returns a recorded file of testdata/ (e.g. "scenario.jsonl",
// "endpoints-pjsip.json", "channels-active-call.json"); it panics if there
// is none.
func Recorded(name string) []byte {
	b, err := recorded.ReadFile("testdata/" + name)
	if err != nil {
		panic("aritest: " + err.Error())
	}
	return b
}

// ScenarioEvents returns the events ReplayScenario pushes, in order.
func ScenarioEvents() [][]byte {
	all := bytes.Split(Recorded("scenario.jsonl"), []byte("\n"))
	for _, l := range bytes.Split(Recorded("scenario-endpoint-subscription.jsonl"), []byte("\n")) {
		if bytes.Contains(l, []byte(`"type":"EndpointStateChange"`)) {
			all = append(all, l)
		}
	}
	all = slices.DeleteFunc(all, func(l []byte) bool { return len(bytes.TrimSpace(l)) == 0 })
	slices.SortStableFunc(all, func(a, b []byte) int { return strings.Compare(timestampOf(a), timestampOf(b)) })
	return all
}

func timestampOf(ev []byte) string {
	var h struct {
		Timestamp string `json:"timestamp"`
	}
	_ = json.Unmarshal(ev, &h)
	return h.Timestamp
}
