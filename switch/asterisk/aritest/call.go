package aritest

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"time"
)

// The recorded call PlayCall rewrites: call 1 of the scenario, PJSIP/1001
// calling 1002, answered, bridged, hung up by the caller (cause 16).
const (
	recCallerID   = "1795610108.0"
	recCalleeID   = "1795610108.1"
	recBridgeID   = "34b8bfbe-838a-43c6-a79a-69eeb4ff62b6"
	recCallerName = "PJSIP/1001-00000000"
	recCalleeName = "PJSIP/1002-00000001"
	ariTimeLayout = "2006-01-02T15:04:05.000-0700"
)

var (
	recAnswer = mustTime("2026-11-25T12:35:10.164+0000")
	recEnd    = mustTime("2026-11-25T12:35:15.179+0000")
	timeRE    = regexp.MustCompile(`"(timestamp|creationtime)":"([^"]+)"`)
	callSeq   atomic.Int64
)

func mustTime(s string) time.Time {
	t, err := time.Parse(ariTimeLayout, s)
	if err != nil {
		panic(err)
	}
	return t
}

// CallEvents returns the events of the recorded answered call rewritten
// for endpoint from calling endpoint to: fresh channel ids (uniqueids of
// end's second) and names, numbers from the endpoints' users, and times
// moved so that the call is answered talk before end and hung up at end.
// It returns the caller's and the callee's channel ids.
func CallEvents(from, to string, talk time.Duration, end time.Time) (events [][]byte, callerID, calleeID string) {
	seq := callSeq.Add(2)
	callerID = fmt.Sprintf("%d.%d", end.Unix(), 1000+seq)
	calleeID = fmt.Sprintf("%d.%d", end.Unix(), 1001+seq)
	fromUser, _, _ := strings.Cut(from, "@")
	toUser, _, _ := strings.Cut(to, "@")
	// Two phases, so that swapping 1001 and 1002 does not collide.
	r1 := strings.NewReplacer(
		recCallerID, "\x00A", recCalleeID, "\x00B", recBridgeID, "\x00G",
		recCallerName, "\x00CN", recCalleeName, "\x00DN", "PJSIP/1002", "\x00DE",
		`"number":"1001"`, "\x00CU", `"number":"1002"`, "\x00DU",
		`"exten":"1002"`, "\x00DX", `"dialstring":"1002"`, "\x00DS", "call to 1002", "\x00DC",
	)
	r2 := strings.NewReplacer(
		"\x00A", callerID, "\x00B", calleeID, "\x00G", fmt.Sprintf("bridge-%d", seq),
		"\x00CN", fmt.Sprintf("PJSIP/%s-%08x", from, seq), "\x00DN", fmt.Sprintf("PJSIP/%s-%08x", to, seq+1),
		"\x00DE", "PJSIP/"+to,
		"\x00CU", `"number":"`+fromUser+`"`, "\x00DU", `"number":"`+toUser+`"`,
		"\x00DX", `"exten":"`+toUser+`"`, "\x00DS", `"dialstring":"`+toUser+`"`, "\x00DC", "call to "+toUser,
	)
	answer := end.Add(-talk)
	mid := recAnswer.Add(recEnd.Sub(recAnswer) / 2)
	for _, l := range bytes.Split(Recorded("scenario.jsonl"), []byte("\n")) {
		if !bytes.Contains(l, []byte(recCallerID+`"`)) && !bytes.Contains(l, []byte(recCalleeID+`"`)) && !bytes.Contains(l, []byte(recBridgeID)) {
			continue
		}
		s := r2.Replace(r1.Replace(string(l)))
		s = timeRE.ReplaceAllStringFunc(s, func(m string) string {
			sub := timeRE.FindStringSubmatch(m)
			t, err := time.Parse(ariTimeLayout, sub[2])
			if err != nil {
				return m
			}
			// Times of the set-up keep their distance to the answer, those
			// of the hang-up to the end.
			if t.Before(mid) {
				t = answer.Add(t.Sub(recAnswer))
			} else {
				t = end.Add(t.Sub(recEnd))
			}
			return fmt.Sprintf(`"%s":"%s"`, sub[1], t.UTC().Format(ariTimeLayout))
		})
		events = append(events, []byte(s))
	}
	return events, callerID, calleeID
}

// ContactEvents returns what Asterisk 23 sends when endpoint registers
// contact uri (rtt > 0: qualified Reachable; 0: NonQualified), or, with
// removed, when it unregisters it and has no other contact: the
// EndpointStateChange, PeerStatusChange and ContactStatusChange of the
// recording, at time at. Push delivers the EndpointStateChange only to
// an application subscribed to endpoint:PJSIP without subscribeAll, as
// Asterisk 23.4.1 does.
func ContactEvents(ep, uri string, rtt time.Duration, removed bool, at time.Time) [][]byte {
	ts := at.UTC().Format(ariTimeLayout)
	state, peer, status := "online", "Reachable", "Reachable"
	if rtt <= 0 {
		status = "NonQualified"
	}
	if removed {
		state, peer, status, rtt = "offline", "Unreachable", "Removed", 0
	}
	epJSON := fmt.Sprintf(`{"technology":"PJSIP","resource":%q,"state":%q,"channel_ids":[]}`, ep, state)
	tail := `,"asterisk_id":"02:fc:00:00:00:01","application":"switchboard"}`
	return [][]byte{
		[]byte(fmt.Sprintf(`{"type":"EndpointStateChange","timestamp":%q,"endpoint":%s`, ts, epJSON) + tail),
		[]byte(fmt.Sprintf(`{"type":"PeerStatusChange","timestamp":%q,"endpoint":%s,"peer":{"peer_status":%q}`, ts, epJSON, peer) + tail),
		[]byte(fmt.Sprintf(`{"type":"ContactStatusChange","timestamp":%q,"endpoint":%s,"contact_info":{"uri":%q,"contact_status":%q,"aor":%q,"roundtrip_usec":"%d"}`,
			ts, epJSON, uri, status, ep, rtt.Microseconds()) + tail),
	}
}
