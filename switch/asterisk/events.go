package asterisk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Event is the part of an ARI WebSocket event that Calls folds: the
// channel events (ChannelCreated, ChannelStateChange, ChannelDialplan,
// Dial, ChannelVarset, ChannelHangupRequest, ChannelDestroyed…) and the
// bridge events. Fields an event type does not carry stay zero. Other
// event types decode too, with only Type, Timestamp and Application set
// from this struct's point of view, so a caller can route them elsewhere
// (presence) using Raw.
type Event struct {
	Type        string    // "ChannelCreated", "Dial", …
	Timestamp   time.Time // when Asterisk raised the event, UTC; zero when absent
	Application string    // the ARI application the event was sent to
	AsteriskID  string    // the node's asterisk_id (its MAC by default)

	// Channel is the channel the event is about (nil for Dial, whose
	// channels are Caller and Peer, and for non-channel events).
	Channel *Channel

	// Dial events: the dialling channel (nil when an ARI originate dials
	// with no caller), the dialled one, and the status Asterisk reports:
	// "" when the dial starts, RINGING, PROGRESS, then a final ANSWER,
	// BUSY, NOANSWER, CANCEL, CHANUNAVAIL, CONGESTION, DONTCALL, TORTURE…
	Caller     *Channel
	Peer       *Channel
	DialStatus string
	DialString string
	Forward    string

	// ChannelVarset: the variable set on Channel (nil for a global).
	Variable string
	Value    string

	// ChannelHangupRequest and ChannelDestroyed. On ChannelDestroyed
	// Cause is the Q.850 hangup cause; on a ChannelHangupRequest with Soft
	// set it is Asterisk's soft-hangup flag (16 = the dialplan or app
	// finished, 32 = explicit ARI hangup), not a Q.850 code. TechCause is
	// the SIP status of a non-2xx final response, 0 when none (the JSON
	// null Asterisk sends when there was none).
	Cause     int
	CauseText string
	Soft      bool
	TechCause int

	// ChannelDialplan: the application the channel is now running.
	DialplanApp     string
	DialplanAppData string

	// StasisStart: the arguments of Stasis(app,args…).
	Args []string

	// Bridge events and ChannelEnteredBridge / ChannelLeftBridge.
	Bridge *Bridge

	// Raw is the event exactly as received (a copy: ParseEvent does not
	// keep the caller's buffer).
	Raw json.RawMessage
}

// Channel is an ARI channel snapshot, as events and GET /channels carry it.
type Channel struct {
	ID           string    `json:"id"` // the channel's uniqueid
	Name         string    `json:"name"`
	State        string    `json:"state"` // Down, Ring, Ringing, Up, Busy…
	ProtocolID   string    `json:"protocol_id"`
	Caller       CallerID  `json:"caller"`
	Connected    CallerID  `json:"connected"`
	AccountCode  string    `json:"accountcode"`
	Dialplan     Dialplan  `json:"dialplan"`
	CreationTime time.Time `json:"-"` // UTC; zero when absent
	// LinkedID is empty on Asterisk 23, whose channel JSON has no
	// linkedid; Calls then links legs itself (Dial, bridges).
	LinkedID string            `json:"linkedid"`
	Language string            `json:"language"`
	Vars     map[string]string `json:"channelvars"` // with ari.conf channelvars
	// AnswerTime is when the channel was answered, read over ARI
	// (CDR(answer,u)) at a resync for a channel first seen Up there; zero
	// otherwise. No channel JSON carries an answer time.
	AnswerTime time.Time `json:"-"`
}

// UnmarshalJSON decodes a channel, reading creationtime in ARI's format.
func (c *Channel) UnmarshalJSON(b []byte) error {
	type plain Channel
	var w struct {
		plain
		CreationTime string `json:"creationtime"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	t, err := parseARITime(w.CreationTime)
	if err != nil {
		return fmt.Errorf("creationtime: %w", err)
	}
	*c = Channel(w.plain)
	c.CreationTime = t
	return nil
}

// CallerID is a name and number, as in a channel's caller and connected.
type CallerID struct {
	Name   string `json:"name"`
	Number string `json:"number"`
}

// Dialplan is where a channel is in the dialplan and what it runs there.
type Dialplan struct {
	Context  string `json:"context"`
	Exten    string `json:"exten"`
	Priority int64  `json:"priority"`
	AppName  string `json:"app_name"`
	AppData  string `json:"app_data"`
}

// Bridge is an ARI bridge snapshot.
type Bridge struct {
	ID         string   `json:"id"`
	Technology string   `json:"technology"`
	Type       string   `json:"bridge_type"`
	Class      string   `json:"bridge_class"`
	Creator    string   `json:"creator"`
	Name       string   `json:"name"`
	Channels   []string `json:"channels"`
}

// eventWire is an event as it arrives. peer and caller are kept raw: a
// Dial event's are channels, a PeerStatusChange's "peer" is not.
type eventWire struct {
	Type            string          `json:"type"`
	Timestamp       string          `json:"timestamp"`
	Application     string          `json:"application"`
	AsteriskID      string          `json:"asterisk_id"`
	Channel         *Channel        `json:"channel"`
	Caller          json.RawMessage `json:"caller"`
	Peer            json.RawMessage `json:"peer"`
	DialStatus      string          `json:"dialstatus"`
	DialString      string          `json:"dialstring"`
	Forward         string          `json:"forward"`
	Variable        string          `json:"variable"`
	Value           string          `json:"value"`
	Cause           int             `json:"cause"`
	CauseText       string          `json:"cause_txt"`
	Soft            bool            `json:"soft"`
	TechCause       int             `json:"tech_cause"`
	DialplanApp     string          `json:"dialplan_app"`
	DialplanAppData string          `json:"dialplan_app_data"`
	Args            []string        `json:"args"`
	Bridge          *Bridge         `json:"bridge"`
}

// ErrNotEvent is returned by ParseEvent for JSON that is not an ARI event
// (not an object, or an object without a type).
var ErrNotEvent = errors.New("asterisk: not an ARI event")

// ParseEvent decodes one ARI WebSocket message. It only parses: the
// connection reads the messages and hands them over one by one. Event
// types Calls does not know decode fine and are ignored by Apply; a
// message whose fields have the wrong JSON types is refused, so that the
// caller can log or dead-letter it rather than fold half an event.
func ParseEvent(b []byte) (Event, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return Event{}, fmt.Errorf("%w: not a JSON object", ErrNotEvent)
	}
	var w eventWire
	if err := json.Unmarshal(b, &w); err != nil {
		return Event{}, fmt.Errorf("asterisk: decode ARI event: %w", err)
	}
	if w.Type == "" {
		return Event{}, fmt.Errorf("%w: no type", ErrNotEvent)
	}
	ts, err := parseARITime(w.Timestamp)
	if err != nil {
		return Event{}, fmt.Errorf("asterisk: ARI event %s: timestamp: %w", w.Type, err)
	}
	ev := Event{
		Type: w.Type, Timestamp: ts, Application: w.Application, AsteriskID: w.AsteriskID,
		Channel:    w.Channel,
		DialStatus: w.DialStatus, DialString: w.DialString, Forward: w.Forward,
		Variable: w.Variable, Value: w.Value,
		Cause: w.Cause, CauseText: w.CauseText, Soft: w.Soft, TechCause: w.TechCause,
		DialplanApp: w.DialplanApp, DialplanAppData: w.DialplanAppData,
		Args:   w.Args,
		Bridge: w.Bridge,
		Raw:    bytes.Clone(b),
	}
	if w.Type == "Dial" {
		if ev.Caller, err = rawChannel(w.Caller); err != nil {
			return Event{}, fmt.Errorf("asterisk: ARI event Dial: caller: %w", err)
		}
		if ev.Peer, err = rawChannel(w.Peer); err != nil {
			return Event{}, fmt.Errorf("asterisk: ARI event Dial: peer: %w", err)
		}
	}
	return ev, nil
}

// ParseChannels decodes the answer to GET /ari/channels, the list Reset
// takes after a reconnect.
func ParseChannels(b []byte) ([]Channel, error) {
	var chs []Channel
	if err := json.Unmarshal(b, &chs); err != nil {
		return nil, fmt.Errorf("asterisk: decode channel list: %w", err)
	}
	return chs, nil
}

// rawChannel decodes an optional channel object; absent and null give nil.
func rawChannel(raw json.RawMessage) (*Channel, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var c Channel
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// ariTimeLayouts are the formats of ARI's timestamps: Asterisk writes
// milliseconds and an offset without a colon (2026-11-25T12:35:08.644+0000);
// RFC 3339 is accepted for fakes and future versions.
var ariTimeLayouts = []string{
	"2006-01-02T15:04:05.999999999-0700",
	time.RFC3339Nano,
}

// parseARITime parses an ARI timestamp; empty gives the zero time.
func parseARITime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	for _, l := range ariTimeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			if t.Year() < 1970 || t.Year() > 9999 {
				return time.Time{}, fmt.Errorf("%q out of range", s)
			}
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an ARI time", s)
}
