package asterisk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
)

// The column orders ParseCSV knows. cdr_csv writes csvBase, then the
// optional columns in the order of cdr_csv.c's build_csv_record.
var (
	csvBase = []string{
		"accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel",
		"lastapp", "lastdata", "start", "answer", "end", "duration", "billsec",
		"disposition", "amaflags",
	}
	csvNewColumns = []string{"peeraccount", "linkedid", "sequence"}
	// customSample is the Master.csv mapping of cdr_custom.conf.sample.
	customSample = []string{
		"clid", "src", "dst", "dcontext", "channel", "dstchannel", "lastapp",
		"lastdata", "start", "answer", "end", "duration", "billsec",
		"disposition", "amaflags", "accountcode", "uniqueid", "userfield", "sequence",
	}
)

// parseCSVLine parses one CSV CDR line.
func parseCSVLine(line string, loc *time.Location) (cdrRow, error) {
	f, err := splitCSVLine(line)
	if err != nil {
		return cdrRow{}, err
	}
	cols, err := csvColumns(f, loc)
	if err != nil {
		return cdrRow{}, err
	}
	fields := make(map[string]string, len(cols))
	for i, c := range cols {
		fields[c] = f[i]
	}
	return buildRow(fields, loc, jsonString(line))
}

// jsonString encodes s as a JSON string, leaving <, > and & readable (a
// caller ID is "Alice" <1001>). Invalid UTF-8 becomes U+FFFD.
func jsonString(s string) json.RawMessage {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// csvColumns names the columns of a CSV row from its width and, where
// widths collide, its content.
func csvColumns(f []string, loc *time.Location) ([]string, error) {
	n := len(f)
	// cdr_custom's sample has start in column 9, where cdr_csv has
	// lastdata; cdr_csv has start in column 10.
	if n == len(customSample) && isTime(f[8], loc) {
		return customSample, nil
	}
	optional := func(v string) string {
		if looksLikeUniqueid(v) {
			return "uniqueid"
		}
		return "userfield"
	}
	base := len(csvBase)
	var cols []string
	switch n {
	case base:
		cols = csvBase
	case base + 1:
		cols = append(cols, csvBase...)
		cols = append(cols, optional(f[base]))
	case base + 2:
		cols = append(cols, csvBase...)
		cols = append(cols, "uniqueid", "userfield")
	case base + 3:
		cols = append(cols, csvBase...)
		cols = append(cols, csvNewColumns...)
	case base + 4:
		cols = append(cols, csvBase...)
		cols = append(cols, optional(f[base]))
		cols = append(cols, csvNewColumns...)
	case base + 5:
		cols = append(cols, csvBase...)
		cols = append(cols, "uniqueid", "userfield")
		cols = append(cols, csvNewColumns...)
	default:
		return nil, fmt.Errorf("%d columns: not a cdr_csv row (16 to 21 columns) or a cdr_custom sample row (19)", n)
	}
	return cols, nil
}

// splitCSVLine splits one line the way Asterisk writes CSV: fields
// separated by commas, a field optionally quoted with '"', a quote inside
// a quoted field doubled. It is stricter than encoding/csv on purpose: a
// quote out of place means a damaged or truncated row.
func splitCSVLine(s string) ([]string, error) {
	var fields []string
	for i := 0; ; {
		if i < len(s) && s[i] == '"' {
			var b strings.Builder
			j := i + 1
			for {
				k := strings.IndexByte(s[j:], '"')
				if k < 0 {
					return nil, fmt.Errorf("field %d: unterminated quoted field (truncated row?)", len(fields)+1)
				}
				b.WriteString(s[j : j+k])
				j += k + 1
				if j < len(s) && s[j] == '"' {
					b.WriteByte('"')
					j++
					continue
				}
				break
			}
			fields = append(fields, b.String())
			if j == len(s) {
				return fields, nil
			}
			if s[j] != ',' {
				return nil, fmt.Errorf("field %d: %q after the closing quote", len(fields), s[j])
			}
			i = j + 1
			continue
		}
		k := strings.IndexByte(s[i:], ',')
		end := len(s)
		if k >= 0 {
			end = i + k
		}
		if strings.IndexByte(s[i:end], '"') >= 0 {
			return nil, fmt.Errorf("field %d: quote inside an unquoted field", len(fields)+1)
		}
		fields = append(fields, s[i:end])
		if k < 0 {
			return fields, nil
		}
		i = end + 1
	}
}

// parseJSONLine parses one JSON-lines CDR: an object keyed by Asterisk's
// CDR field names (case-insensitively).
func parseJSONLine(line string, loc *time.Location) (cdrRow, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(line), &obj); err != nil {
		return cdrRow{}, fmt.Errorf("not a JSON object: %w", err)
	}
	if obj == nil {
		return cdrRow{}, errors.New("not a JSON object: null")
	}
	fields := make(map[string]string, len(obj))
	for k, v := range obj {
		s, ok := scalar(v)
		if !ok {
			if _, used := usedFields[strings.ToLower(k)]; used {
				return cdrRow{}, fmt.Errorf("field %q is not a string or number", k)
			}
			continue
		}
		fields[strings.ToLower(k)] = s
	}
	var raw bytes.Buffer
	if err := json.Compact(&raw, []byte(line)); err != nil {
		return cdrRow{}, fmt.Errorf("not JSON: %w", err) // unreachable after Unmarshal
	}
	return buildRow(fields, loc, raw.Bytes())
}

// usedFields are the fields buildRow reads.
var usedFields = map[string]struct{}{
	"src": {}, "dst": {}, "clid": {}, "channel": {}, "dstchannel": {}, "lastapp": {},
	"lastdata": {}, "uniqueid": {}, "linkedid": {}, "start": {}, "answer": {}, "end": {},
	"duration": {}, "billsec": {}, "disposition": {},
}

// scalar returns a JSON string, number, boolean or null as text.
func scalar(v json.RawMessage) (string, bool) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "", false
	}
	switch v[0] {
	case '"':
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", false
		}
		return s, true
	case '{', '[':
		return "", false
	case 'n':
		return "", true
	default: // number, true, false
		return string(v), true
	}
}

// buildRow checks a row's fields and converts them.
func buildRow(f map[string]string, loc *time.Location, raw json.RawMessage) (cdrRow, error) {
	r := cdrRow{
		src: f["src"], dst: f["dst"], clid: f["clid"],
		channel: f["channel"], dstchannel: f["dstchannel"],
		lastapp: f["lastapp"], lastdata: f["lastdata"],
		uniqueid: strings.TrimSpace(f["uniqueid"]), linkedid: strings.TrimSpace(f["linkedid"]),
		raw: raw,
	}
	if r.uniqueid == "" {
		if _, ok := f["uniqueid"]; !ok {
			return cdrRow{}, errors.New("no uniqueid column: set loguniqueid=yes in cdr.conf [csv] (or log CDR(uniqueid))")
		}
		return cdrRow{}, errors.New("empty uniqueid")
	}
	var err error
	if r.start, err = parseTime(f["start"], loc); err != nil {
		return cdrRow{}, fmt.Errorf("start: %w", err)
	}
	if r.answer, err = parseTime(f["answer"], loc); err != nil {
		return cdrRow{}, fmt.Errorf("answer: %w", err)
	}
	if r.end, err = parseTime(f["end"], loc); err != nil {
		return cdrRow{}, fmt.Errorf("end: %w", err)
	}
	switch {
	case r.start.IsZero():
		return cdrRow{}, errors.New("no start time")
	case r.end.IsZero():
		return cdrRow{}, errors.New("no end time")
	case r.end.Before(r.start):
		return cdrRow{}, errors.New("end before start")
	}
	if r.duration, err = parseSeconds(f["duration"], r.start, r.end); err != nil {
		return cdrRow{}, fmt.Errorf("duration: %w", err)
	}
	from := r.answer
	if from.IsZero() {
		from = r.end
	}
	if r.billsec, err = parseSeconds(f["billsec"], from, r.end); err != nil {
		return cdrRow{}, fmt.Errorf("billsec: %w", err)
	}
	if r.disposition, err = parseDisposition(f["disposition"]); err != nil {
		return cdrRow{}, err
	}
	return r, nil
}

// timeLayouts are the date formats Asterisk writes by default
// ("%Y-%m-%d %T") and those a cdr_custom start(%FT%T%z) might. Go accepts
// fractional seconds after the seconds field without asking.
var timeLayouts = []string{
	"2006-01-02 15:04:05",
	time.RFC3339,
	"2006-01-02T15:04:05-0700",
	"2006-01-02 15:04:05-0700",
	"2006-01-02 15:04:05 -0700",
	"2006-01-02T15:04:05",
}

// Epochs outside these bounds are not CDR times (1990 to 2200).
const (
	minEpoch = 631152000
	maxEpoch = 7258118400
)

// parseTime parses a CDR time: empty (none), a date in loc (or with its
// own offset), or an epoch in seconds (start(int64), start(double)).
// The result is in UTC.
func parseTime(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if c := s[0]; c >= '0' && c <= '9' && !strings.ContainsAny(s, "-:T ") {
		sec, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("%q is not a time", s)
		}
		if sec == 0 {
			return time.Time{}, nil // int64 format of an unset time
		}
		if sec < minEpoch || sec > maxEpoch {
			return time.Time{}, fmt.Errorf("epoch %q out of range", s)
		}
		whole, frac := math.Modf(sec)
		return time.Unix(int64(whole), int64(math.Round(frac*1e6))*1e3).UTC(), nil
	}
	for _, l := range timeLayouts {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			if t.Year() < 1990 || t.Year() > 2200 {
				return time.Time{}, fmt.Errorf("%q out of range", s)
			}
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time", s)
}

// isTime reports whether s is a non-empty CDR time.
func isTime(s string, loc *time.Location) bool {
	t, err := parseTime(s, loc)
	return err == nil && !t.IsZero()
}

// parseSeconds parses a duration or billsec: an integer, or a float from
// cdr_custom's duration,f (truncated as Asterisk truncates). Empty means
// the field is absent from a JSON row: it is computed from the times.
func parseSeconds(s string, from, to time.Time) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return int(to.Sub(from) / time.Second), nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 || n > math.MaxInt32 {
			return 0, fmt.Errorf("%d out of range", n)
		}
		return n, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || v < 0 || v > math.MaxInt32 {
		return 0, fmt.Errorf("%q is not a number of seconds", s)
	}
	return int(v), nil
}

// parseDisposition maps Asterisk's disposition, as text or as the number
// of a cdr_custom disposition(int64) field.
func parseDisposition(s string) (cdr.Disposition, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "ANSWERED", "8":
		return cdr.Answered, nil
	case "NO ANSWER", "NOANSWER", "0":
		return cdr.NoAnswer, nil
	case "BUSY", "4":
		return cdr.Busy, nil
	case "FAILED", "2":
		return cdr.Failed, nil
	case "CONGESTION", "16":
		return cdr.Congestion, nil
	case "":
		return "", errors.New("no disposition")
	}
	return "", fmt.Errorf("unknown disposition %q", s)
}

// looksLikeUniqueid reports whether s has the shape of an Asterisk
// uniqueid: [systemname-]epoch.sequence.
func looksLikeUniqueid(s string) bool {
	if i := strings.LastIndexByte(s, '-'); i >= 0 {
		s = s[i+1:]
	}
	a, b, ok := strings.Cut(s, ".")
	return ok && isDigits(a) && isDigits(b)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isAccountTech reports whether channels of tech name SIP endpoints, the
// only ones that are accounts or gateways (not Local, DAHDI, Message…).
func isAccountTech(tech string) bool {
	return strings.EqualFold(tech, "PJSIP") || strings.EqualFold(tech, "SIP") || strings.EqualFold(tech, "IAX2")
}

// channelEndpoint splits a channel name such as PJSIP/1001-00000004 into
// its technology and endpoint: the suffix Asterisk adds to make the name
// unique (-hex, ;1 on Local channels, <ZOMBIE>) is dropped.
func channelEndpoint(ch string) (tech, endpoint string) {
	tech, rest, ok := strings.Cut(strings.TrimSpace(ch), "/")
	if !ok || tech == "" || rest == "" {
		return "", ""
	}
	if i := strings.IndexAny(rest, ";<"); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.LastIndexByte(rest, '-'); i > 0 && isHex(rest[i+1:]) {
		rest = rest[:i]
	}
	return tech, rest
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// dialTarget reads the first target of a Dial() argument: PJSIP/1002,
// PJSIP/555@gateway,20 or PJSIP/gateway/sip:555@host. resource is what
// follows the technology (1002, 555@gateway), endpoint the endpoint it
// goes through (1002, gateway).
func dialTarget(data string) (tech, endpoint, resource string) {
	arg, _, _ := strings.Cut(data, ",")
	first, _, _ := strings.Cut(arg, "&")
	tech, resource, ok := strings.Cut(strings.TrimSpace(first), "/")
	if !ok || tech == "" || resource == "" {
		return "", "", ""
	}
	endpoint = resource
	if i := strings.IndexByte(endpoint, '/'); i >= 0 {
		endpoint = endpoint[:i]
	}
	if i := strings.LastIndexByte(endpoint, '@'); i >= 0 {
		endpoint = endpoint[i+1:]
	}
	return tech, endpoint, resource
}

// callerName extracts the name from a caller ID as Asterisk prints it:
// "Alice" <1001>, Alice <1001>, or a bare number (no name).
func callerName(clid, src string) string {
	name := strings.TrimSpace(clid)
	if strings.HasSuffix(name, ">") {
		if i := strings.LastIndexByte(name, '<'); i >= 0 {
			name = strings.TrimSpace(name[:i])
		}
	}
	if len(name) >= 2 && name[0] == '"' && name[len(name)-1] == '"' {
		name = strings.ReplaceAll(name[1:len(name)-1], `\"`, `"`)
	}
	if name == src || name == callerNumber(clid) {
		return ""
	}
	return name
}

// callerNumber extracts the number between <> of a caller ID.
func callerNumber(clid string) string {
	clid = strings.TrimSpace(clid)
	if !strings.HasSuffix(clid, ">") {
		return ""
	}
	i := strings.LastIndexByte(clid, '<')
	if i < 0 {
		return ""
	}
	return clid[i+1 : len(clid)-1]
}
