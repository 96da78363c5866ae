package asterisk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// celColumns is the column order of a cel_custom CSV row, the `fields`
// line README.md gives the operator (the names are cel_custom's field
// registry names; an unknown one makes Asterisk refuse the whole file).
var celColumns = []string{
	"eventtype", "eventtime", "uniqueid", "linkedid", "channame", "num", "name",
	"exten", "context", "appname", "appdata", "peer", "userfield", "eventextra",
}

// celEvents are the CEL event types Asterisk 23 writes. A CSV line whose
// first field is one of them is a CEL row; of these, foldCEL reads
// CHAN_START, ANSWER, BRIDGE_ENTER, HANGUP, CHAN_END and LINKEDID_END and
// keeps the others as raw rows of their leg.
var celEvents = map[string]struct{}{
	"CHAN_START": {}, "CHAN_END": {}, "ANSWER": {}, "HANGUP": {}, "BRIDGE_ENTER": {},
	"BRIDGE_EXIT": {}, "LINKEDID_END": {}, "APP_START": {}, "APP_END": {}, "PARK_START": {},
	"PARK_END": {}, "USER_DEFINED": {}, "BLINDTRANSFER": {}, "ATTENDEDTRANSFER": {},
	"PICKUP": {}, "FORWARD": {}, "LOCAL_OPTIMIZE": {}, "LOCAL_OPTIMIZE_BEGIN": {},
	"STREAM_BEGIN": {}, "STREAM_END": {}, "DTMF": {},
}

// celRow is one CEL event as cel_custom wrote it.
type celRow struct {
	event              string // CHAN_START, ANSWER, HANGUP…
	at                 time.Time
	uniqueid, linkedid string
	channame           string
	num, name          string // the channel's caller ID
	exten              string
	appname, appdata   string
	peer               string // BRIDGE_*: the other channel, when it entered first
	// HANGUP's eventextra: {"hangupcause":16,"hangupsource":…,"dialstatus":"ANSWER"}.
	cause      int
	dialstatus string
	raw        json.RawMessage
}

// isCELLine reports whether a line of a CDR file is a cel_custom row:
// a JSON object with an "eventtype" key, or a CSV line whose first field
// is a CEL event type. It decides the format of a whole file.
func isCELLine(line string) bool {
	s := strings.TrimSpace(line)
	if strings.HasPrefix(s, "{") {
		var probe map[string]json.RawMessage
		if json.Unmarshal([]byte(s), &probe) != nil {
			return false
		}
		for k := range probe {
			if strings.EqualFold(k, "eventtype") {
				return true
			}
		}
		return false
	}
	f, err := splitCSVLine(s)
	if err != nil || len(f) == 0 {
		return false
	}
	_, ok := celEvents[strings.ToUpper(strings.TrimSpace(f[0]))]
	return ok
}

// parseCELLine parses one cel_custom row: JSON lines keyed by the field
// names, or CSV (dsv, quoting_method=all or none) in celColumns' order.
func parseCELLine(line string, isJSON bool, loc *time.Location) (celRow, error) {
	if isJSON {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal([]byte(line), &obj); err != nil {
			return celRow{}, fmt.Errorf("not a JSON object: %w", err)
		}
		if obj == nil {
			return celRow{}, errors.New("not a JSON object: null")
		}
		f := make(map[string]string, len(obj))
		for k, v := range obj {
			s, ok := scalar(v)
			if !ok {
				return celRow{}, fmt.Errorf("field %q is not a string or number", k)
			}
			f[strings.ToLower(k)] = s
		}
		var raw bytes.Buffer
		if err := json.Compact(&raw, []byte(line)); err != nil {
			return celRow{}, fmt.Errorf("not JSON: %w", err)
		}
		return buildCELRow(f, loc, raw.Bytes())
	}
	cols, err := splitCSVLine(line)
	if err != nil {
		return celRow{}, err
	}
	if len(cols) != len(celColumns) {
		return celRow{}, fmt.Errorf("%d columns: a cel_custom row has %d (%s)", len(cols), len(celColumns), strings.Join(celColumns, ","))
	}
	f := make(map[string]string, len(cols))
	for i, c := range celColumns {
		f[c] = cols[i]
	}
	return buildCELRow(f, loc, jsonString(line))
}

func buildCELRow(f map[string]string, loc *time.Location, raw json.RawMessage) (celRow, error) {
	r := celRow{
		event:    strings.ToUpper(strings.TrimSpace(f["eventtype"])),
		uniqueid: strings.TrimSpace(f["uniqueid"]),
		linkedid: strings.TrimSpace(f["linkedid"]),
		channame: f["channame"], num: f["num"], name: f["name"], exten: f["exten"],
		appname: f["appname"], appdata: f["appdata"], peer: f["peer"],
		raw: raw,
	}
	switch {
	case r.event == "":
		return celRow{}, errors.New("no eventtype")
	case r.uniqueid == "":
		return celRow{}, errors.New("no uniqueid: it keys the leg")
	}
	if r.linkedid == "" {
		r.linkedid = r.uniqueid
	}
	at, err := parseCELTime(f["eventtime"], loc)
	if err != nil {
		return celRow{}, fmt.Errorf("eventtime: %w", err)
	}
	if at.IsZero() {
		return celRow{}, errors.New("no eventtime")
	}
	r.at = at
	if r.event == "HANGUP" {
		if x := strings.TrimSpace(f["eventextra"]); x != "" {
			var extra struct {
				Cause      json.Number `json:"hangupcause"`
				DialStatus string      `json:"dialstatus"`
			}
			if err := json.Unmarshal([]byte(x), &extra); err != nil {
				return celRow{}, fmt.Errorf("eventextra: %w", err)
			}
			if extra.Cause != "" {
				n, err := strconv.Atoi(extra.Cause.String())
				if err != nil || n < 0 || n > 255 {
					return celRow{}, fmt.Errorf("eventextra: hangupcause %q is not a Q.850 cause", extra.Cause)
				}
				r.cause = n
			}
			r.dialstatus = extra.DialStatus
		}
	}
	return r, nil
}

// parseCELTime reads eventtime: "<epoch>.<µs>" as cel_custom writes it
// without a dateformat, or a date in loc (with dateformat=%F %T).
func parseCELTime(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	sec, frac, ok := strings.Cut(s, ".")
	if !isDigits(sec) || (ok && !isDigits(frac)) {
		return parseTime(s, loc)
	}
	n, err := strconv.ParseInt(sec, 10, 64)
	if err != nil || n < minEpoch || n > maxEpoch {
		return time.Time{}, fmt.Errorf("epoch %q out of range", s)
	}
	var ns int64
	if ok {
		frac = (frac + "000000000")[:9]
		ns, _ = strconv.ParseInt(frac, 10, 64)
	}
	return time.Unix(n, ns).UTC(), nil
}

// causeText is Asterisk's ast_cause2str: the text ARI sends as a
// ChannelDestroyed's cause_txt, so that a leg rebuilt from CEL carries the
// same CauseText as one seen live (main/channel.c, 23.4.1).
func causeText(cause int) string {
	if t, ok := causeTexts[cause]; ok {
		return t
	}
	return "Unknown"
}

var causeTexts = map[int]string{
	1: "Unallocated (unassigned) number", 2: "No route to specified transmit network",
	3: "No route to destination", 5: "Misdialed trunk prefix", 6: "Channel unacceptable",
	7: "Call awarded and being delivered in an established channel", 8: "Pre-empted",
	14: "Number ported elsewhere", 16: "Normal Clearing", 17: "User busy",
	18: "No user responding", 19: "User alerting, no answer", 20: "Subscriber absent",
	21: "Call Rejected", 22: "Number changed", 23: "Redirected to new destination",
	26: "Answered elsewhere", 27: "Destination out of order", 28: "Invalid number format",
	29: "Facility rejected", 30: "Response to STATus ENQuiry", 31: "Normal, unspecified",
	34: "Circuit/channel congestion", 38: "Network out of order", 41: "Temporary failure",
	42: "Switching equipment congestion", 43: "Access information discarded",
	44: "Requested channel not available", 50: "Facility not subscribed",
	52: "Outgoing call barred", 54: "Incoming call barred", 57: "Bearer capability not authorized",
	58: "Bearer capability not available", 65: "Bearer capability not implemented",
	66: "Channel not implemented", 69: "Facility not implemented", 81: "Invalid call reference value",
	88: "Incompatible destination", 95: "Invalid message unspecified",
	96: "Mandatory information element is missing", 97: "Message type nonexist.",
	98: "Wrong message", 99: "Info. element nonexist or not implemented",
	100: "Invalid information element contents", 101: "Message not compatible with call state",
	102: "Recover on timer expiry", 103: "Mandatory IE length error",
	111: "Protocol error, unspecified", 127: "Interworking, unspecified",
}
