package freeswitch

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchboard-voip/switchboard/switch/presence"
)

// ErrMalformedReply is wrapped by every error about the content of an api
// reply the parsers read (not XML, not JSON, no root element…).
var ErrMalformedReply = errors.New("freeswitch: malformed api reply")

func malformedReply(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformedReply, fmt.Sprintf(format, args...))
}

// APIError is an api command FreeSWITCH refused: its reply starts with
// "-ERR" (an unknown command gives "-ERR nosuchcommand Command not
// found!") or "-USAGE".
type APIError struct {
	// Reply is the reply without its "-ERR " prefix and final line break.
	Reply string
}

func (e *APIError) Error() string { return "freeswitch: api: " + e.Reply }

// APIResult reads the body of an api/response (or a BACKGROUND_JOB's
// body): the reply without its final line break, or an *APIError when
// FreeSWITCH refused the command.
func APIResult(body []byte) (string, error) {
	s := strings.TrimRight(string(body), "\r\n")
	if rest, ok := strings.CutPrefix(s, "-ERR"); ok {
		return "", &APIError{Reply: strings.TrimSpace(rest)}
	}
	if strings.HasPrefix(s, "-USAGE") {
		return "", &APIError{Reply: s[1:]}
	}
	return s, nil
}

// xmlDecoder returns a decoder of a sofia xmlstatus reply. FreeSWITCH
// declares encoding="ISO-8859-1" but writes its strings (user agents,
// display names) as they came, UTF-8 in practice: a valid UTF-8 body is
// read as it is, any other as Latin-1.
func xmlDecoder(b []byte) *xml.Decoder {
	valid := utf8.Valid(b)
	dec := xml.NewDecoder(bytes.NewReader(b))
	dec.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) {
		if valid {
			return r, nil
		}
		raw, err := io.ReadAll(r)
		if err != nil {
			return nil, err
		}
		out := make([]rune, len(raw))
		for i, c := range raw {
			out[i] = rune(c)
		}
		return strings.NewReader(string(out)), nil
	}
	return dec
}

// eachXMLElement calls fn with every element named name, at any depth; it
// fails on bytes that are not XML or hold no element at all (FreeSWITCH
// answers some errors in plain text).
func eachXMLElement(b []byte, name string, fn func(dec *xml.Decoder, start xml.StartElement) error) error {
	dec := xmlDecoder(b)
	root := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			if !root {
				return malformedReply("no XML element in %q", clipBytes(b))
			}
			return nil
		}
		if err != nil {
			return malformedReply("not XML: %v", err)
		}
		start, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		root = true
		if start.Name.Local == name {
			if err := fn(dec, start); err != nil {
				return err
			}
		}
	}
}

func clipBytes(b []byte) string { return eslClip(strings.TrimSpace(string(b))) }

// ParseXMLStatusProfiles reads `sofia xmlstatus`: the names of the sofia
// profiles, in the order listed, without aliases (an alias such as a
// domain name lists the profile it stands for under another name) and
// gateways.
func ParseXMLStatusProfiles(b []byte) ([]string, error) {
	var names []string
	err := eachXMLElement(b, "profile", func(dec *xml.Decoder, start xml.StartElement) error {
		var p struct {
			Name string `xml:"name"`
			Type string `xml:"type"`
		}
		if err := dec.DecodeElement(&p, &start); err != nil {
			return malformedReply("profile: %v", err)
		}
		name := strings.TrimSpace(p.Name)
		if name == "" || (p.Type != "" && !strings.EqualFold(strings.TrimSpace(p.Type), "profile")) {
			return nil
		}
		for _, n := range names {
			if n == name {
				return nil
			}
		}
		names = append(names, name)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return names, nil
}

// xmlRegistration is one <registration> of `sofia xmlstatus profile <p>
// reg`.
type xmlRegistration struct {
	CallID      string `xml:"call-id"`
	User        string `xml:"user"` // sip_user@sip_host
	Contact     string `xml:"contact"`
	Agent       string `xml:"agent"`
	Status      string `xml:"status"` // Registered(UDP)(unknown) exp(2026-11-25 13:40:01) expsecs(3597)
	PingStatus  string `xml:"ping-status"`
	PingTime    string `xml:"ping-time"` // milliseconds
	NetworkIP   string `xml:"network-ip"`
	NetworkPort string `xml:"network-port"`
}

// ParseXMLStatusReg reads `sofia xmlstatus profile <p> reg`, FreeSWITCH's
// live registration table (`show registrations` lags behind expiries),
// with the mapping of PresenceFromEvent, so that a resync finds what the
// events put: User and Domain from <user> (sip_user@sip_host), Contact
// through ContactURI, Address network-ip:network-port, Transport from the
// status, UserAgent the agent.
//
// Expires is opt.Now plus the status's expsecs, the seconds left when
// FreeSWITCH answered (its exp(…) is in the node's local time zone, which
// the reply does not name). Status from ping-status through
// pingContactStatus (FreeSWITCH's own verdict: Reachable from the
// REGISTER it accepted, Unreachable once its OPTIONS pings fail), RTT the
// ping-time (0 when the profile does not ping: ping-time 0.00).
func ParseXMLStatusReg(b []byte, opt PresenceOptions) ([]presence.Registration, error) {
	now := opt.now()
	var regs []presence.Registration
	err := eachXMLElement(b, "registration", func(dec *xml.Decoder, start xml.StartElement) error {
		var x xmlRegistration
		if err := dec.DecodeElement(&x, &start); err != nil {
			return malformedReply("registration: %v", err)
		}
		user, domain, _ := strings.Cut(strings.TrimSpace(x.User), "@")
		if user == "" {
			return nil
		}
		r := presence.Registration{
			Switch:    opt.Switch,
			User:      user,
			Domain:    first(domain, opt.Domain),
			Contact:   ContactURI(x.Contact),
			Address:   regAddress(x.NetworkIP, x.NetworkPort),
			Transport: regTransport(x.Status, x.Contact),
			UserAgent: strings.TrimSpace(x.Agent),
			Status:    presence.ContactUnknown,
			UpdatedAt: now,
		}
		if secs, ok := statusField(x.Status, "expsecs"); ok {
			if n, err := strconv.ParseInt(secs, 10, 64); err == nil && n >= 0 && n < maxEpoch {
				r.Expires = now.Add(time.Duration(n) * time.Second)
			}
		}
		r.Status = pingContactStatus(x.PingStatus)
		if r.Status == presence.ContactReachable {
			r.RTT = pingMillis(x.PingTime)
		}
		regs = append(regs, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return regs, nil
}

// statusField reads name(value) in a registration status.
func statusField(status, name string) (string, bool) {
	i := strings.Index(strings.ToLower(status), name+"(")
	if i < 0 {
		return "", false
	}
	v, _, ok := strings.Cut(status[i+len(name)+1:], ")")
	return strings.TrimSpace(v), ok
}

// pingMillis reads a ping time in milliseconds ("12.34"); 0 when unknown.
func pingMillis(s string) time.Duration {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f <= 0 || f > 3.6e6 {
		return 0
	}
	return time.Duration(f * float64(time.Millisecond))
}

// xmlGateway is one <gateway> of `sofia xmlstatus gateway`.
type xmlGateway struct {
	Name     string `xml:"name"`
	State    string `xml:"state"`  // REGED, FAIL_WAIT, NOREG…
	Status   string `xml:"status"` // UP or DOWN
	PingTime string `xml:"pingtime"`
}

// ParseXMLStatusGateways reads `sofia xmlstatus gateway` (every gateway)
// or `sofia xmlstatus gateway <name>` (one) with the mapping of the
// sofia::gateway_state events: State from the state and status, Detail
// the state, RTT the last ping time (pingtime, milliseconds; 0 when not
// pinged), UpdatedAt opt.Now.
func ParseXMLStatusGateways(b []byte, opt PresenceOptions) ([]presence.Gateway, error) {
	now := opt.now()
	var gws []presence.Gateway
	err := eachXMLElement(b, "gateway", func(dec *xml.Decoder, start xml.StartElement) error {
		var x xmlGateway
		if err := dec.DecodeElement(&x, &start); err != nil {
			return malformedReply("gateway: %v", err)
		}
		name := strings.TrimSpace(x.Name)
		if name == "" {
			return nil
		}
		state := strings.ToUpper(strings.TrimSpace(x.State))
		gws = append(gws, presence.Gateway{
			Switch:       opt.Switch,
			Name:         name,
			State:        gatewayState(state, x.Status),
			Registration: gatewayRegistration(state),
			RTT:          pingMillis(x.PingTime),
			Detail:       state,
			UpdatedAt:    now,
		})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return gws, nil
}

// ShowChannel is one row of `show channels as json`: a live channel as
// FreeSWITCH's core database lists it (all values are strings there).
type ShowChannel struct {
	UUID         string
	Direction    string // inbound (a-leg) or outbound (b-leg)
	Created      string // local time, "2026-11-25 12:40:05"
	CreatedEpoch int64  // seconds
	Name         string // channel name, sofia/internal/1001@127.0.0.1
	State        string // CS_EXECUTE…
	CIDName      string
	CIDNum       string
	IPAddr       string
	Dest         string
	Application  string
	AppData      string
	Context      string
	ReadCodec    string
	WriteCodec   string
	PresenceID   string // user@domain of the phone the leg is about
	Accountcode  string
	CallState    string // RINGING, EARLY, ACTIVE, HELD…
	CalleeName   string
	CalleeNum    string
	// CallUUID is the call's uuid; on a b-leg, FreeSWITCH sets it to the
	// a-leg's.
	CallUUID string
	Hostname string
}

// showChannelRow is the JSON of a row.
type showChannelRow struct {
	UUID         jsonText `json:"uuid"`
	Direction    jsonText `json:"direction"`
	Created      jsonText `json:"created"`
	CreatedEpoch jsonText `json:"created_epoch"`
	Name         jsonText `json:"name"`
	State        jsonText `json:"state"`
	CIDName      jsonText `json:"cid_name"`
	CIDNum       jsonText `json:"cid_num"`
	IPAddr       jsonText `json:"ip_addr"`
	Dest         jsonText `json:"dest"`
	Application  jsonText `json:"application"`
	AppData      jsonText `json:"application_data"`
	Context      jsonText `json:"context"`
	ReadCodec    jsonText `json:"read_codec"`
	WriteCodec   jsonText `json:"write_codec"`
	PresenceID   jsonText `json:"presence_id"`
	Accountcode  jsonText `json:"accountcode"`
	CallState    jsonText `json:"callstate"`
	CalleeName   jsonText `json:"callee_name"`
	CalleeNum    jsonText `json:"callee_num"`
	CallUUID     jsonText `json:"call_uuid"`
	Hostname     jsonText `json:"hostname"`
}

// ParseShowChannels reads `show channels as json`: {"row_count": 0} when
// there is none (with a space), {"row_count":2,"rows":[…]} otherwise. Rows
// without a uuid are skipped.
func ParseShowChannels(b []byte) ([]ShowChannel, error) {
	var doc struct {
		RowCount *json.Number     `json:"row_count"`
		Rows     []showChannelRow `json:"rows"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, malformedReply("show channels: not JSON: %v", err)
	}
	if doc.RowCount == nil {
		return nil, malformedReply("show channels: no row_count in %q", clipBytes(b))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, malformedReply("show channels: data after the JSON object")
	}
	out := make([]ShowChannel, 0, len(doc.Rows))
	for _, r := range doc.Rows {
		if strings.TrimSpace(string(r.UUID)) == "" {
			continue
		}
		c := ShowChannel{
			UUID: strings.TrimSpace(string(r.UUID)), Direction: string(r.Direction),
			Created: string(r.Created), Name: string(r.Name), State: string(r.State),
			CIDName: string(r.CIDName), CIDNum: string(r.CIDNum), IPAddr: string(r.IPAddr),
			Dest: string(r.Dest), Application: string(r.Application), AppData: string(r.AppData),
			Context: string(r.Context), ReadCodec: string(r.ReadCodec), WriteCodec: string(r.WriteCodec),
			PresenceID: string(r.PresenceID), Accountcode: string(r.Accountcode),
			CallState: string(r.CallState), CalleeName: string(r.CalleeName), CalleeNum: string(r.CalleeNum),
			CallUUID: string(r.CallUUID), Hostname: string(r.Hostname),
		}
		if n, err := strconv.ParseInt(strings.TrimSpace(string(r.CreatedEpoch)), 10, 64); err == nil && n > 0 && n < maxEpoch {
			c.CreatedEpoch = n
		}
		out = append(out, c)
	}
	return out, nil
}
