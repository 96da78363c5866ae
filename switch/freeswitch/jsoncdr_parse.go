package freeswitch

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/url"
	"strings"

	"github.com/switchboard-voip/switchboard/cdr"
)

// ParseJSONCDR parses one mod_json_cdr record (a POST body with
// encode=false, or a .cdr.json file) into the leg's Record; LegRecord
// gives the mapping. Raw is the JSON document.
//
// Two quirks of real records are handled here. The caller and dialled
// numbers are in callflow[0].caller_profile, not in variables, and
// callflow is an array in FreeSWITCH 1.10 but was a repeated "callflow"
// key (one object per caller profile) before: both are read, newest
// profile first as FreeSWITCH writes them. And with encode-values=true,
// FreeSWITCH's default, every variable's value is URL-encoded: a record is
// taken as encoded when no variable holds a character FreeSWITCH would
// have escaped (a space, ':', '@', '"'…) and at least one holds a %XX
// escape, and its values are then decoded (%2B stays a '+'). Caller
// profiles are never encoded.
func ParseJSONCDR(body []byte, opt JSONCDROptions) (cdr.Record, error) {
	if opt.Switch == "" {
		return cdr.Record{}, errNoSwitch
	}
	doc, err := decodeJSONCDR(body)
	if err != nil {
		return cdr.Record{}, err
	}
	rec, err := LegRecord(doc.vars, doc.profile, opt)
	if err != nil {
		return cdr.Record{}, err
	}
	rec.Raw = append(json.RawMessage(nil), bytes.TrimSpace(body)...)
	return rec, nil
}

// ParseJSONCDRPost parses a mod_json_cdr POST in any of the forms
// mod_json_cdr.c sends, chosen by its encode setting:
//
//	encode=false   Content-Type: application/json, the JSON itself
//	encode=true    Content-Type: application/x-www-form-urlencoded,
//	               cdr=<URL-encoded JSON>
//	encode=base64  Content-Type: application/x-www-form-base64-encoded,
//	               cdr=<base64 JSON> (not URL-encoded: '+' is base64's)
//
// A body that starts with '{' is taken as JSON whatever the content type,
// and a cdr= body without a content type is recognised by its value. Raw
// is the JSON document inside the envelope.
func ParseJSONCDRPost(contentType string, body []byte, opt JSONCDROptions) (cdr.Record, error) {
	if opt.Switch == "" {
		return cdr.Record{}, errNoSwitch
	}
	doc, err := unwrapPost(contentType, body)
	if err != nil {
		return cdr.Record{}, err
	}
	return ParseJSONCDR(doc, opt)
}

// unwrapPost returns the JSON document of a mod_json_cdr POST body.
func unwrapPost(contentType string, body []byte) ([]byte, error) {
	trimmed := bytes.TrimSpace(body)
	if bytes.HasPrefix(trimmed, []byte("{")) {
		return trimmed, nil
	}
	media, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		media = strings.ToLower(strings.TrimSpace(contentType))
	}
	value, hasPrefix := bytes.CutPrefix(trimmed, []byte("cdr="))
	if media == "application/x-www-form-base64-encoded" && hasPrefix {
		return decodeBase64JSON(value)
	}
	form, err := url.ParseQuery(string(trimmed))
	if err != nil || !form.Has("cdr") {
		return nil, malformed("POST body (%s) is neither JSON nor a cdr= form", orNone(media))
	}
	doc := []byte(strings.TrimSpace(form.Get("cdr")))
	if bytes.HasPrefix(doc, []byte("{")) {
		return doc, nil
	}
	if hasPrefix { // a base64 body sent without its content type
		return decodeBase64JSON(value)
	}
	return decodeBase64JSON(doc)
}

func orNone(s string) string {
	if s == "" {
		return "no content type"
	}
	return s
}

// decodeBase64JSON decodes encode=base64's value, tolerating a line
// break, missing padding, and a '+' a form decoder turned into a space.
func decodeBase64JSON(v []byte) ([]byte, error) {
	s := strings.Map(func(r rune) rune {
		switch r {
		case '\r', '\n', '\t':
			return -1
		case ' ':
			return '+'
		}
		return r
	}, string(v))
	if strings.Contains(s, "%") {
		if u, err := url.QueryUnescape(s); err == nil {
			s = u
		}
	}
	s = strings.TrimRight(s, "=")
	doc, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		return nil, malformed("cdr= value is neither JSON nor base64: %v", err)
	}
	doc = bytes.TrimSpace(doc)
	if !bytes.HasPrefix(doc, []byte("{")) {
		return nil, malformed("base64 cdr= value does not hold a JSON object")
	}
	return doc, nil
}

// jsonCDR is what the parser keeps of a record.
type jsonCDR struct {
	vars    map[string]string
	profile CallerProfile
}

// decodeJSONCDR reads the top level of a record key by key, so that a
// repeated "callflow" key (FreeSWITCH before 1.10) keeps every profile.
func decodeJSONCDR(body []byte) (jsonCDR, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil {
		return jsonCDR{}, malformed("not JSON: %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return jsonCDR{}, malformed("not a JSON object")
	}
	var (
		rawVars   json.RawMessage
		callflows []json.RawMessage
		chanDir   string
	)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return jsonCDR{}, malformed("not JSON: %v", err)
		}
		key, _ := tok.(string)
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return jsonCDR{}, malformed("not JSON: %v", err)
		}
		switch key {
		case "variables":
			rawVars = val
		case "callflow":
			switch firstByte(val) {
			case '[':
				var list []json.RawMessage
				if err := json.Unmarshal(val, &list); err != nil {
					return jsonCDR{}, malformed("callflow: %v", err)
				}
				callflows = append(callflows, list...)
			case '{':
				callflows = append(callflows, val)
			}
		case "channel_data":
			var cd struct {
				Direction jsonText `json:"direction"`
			}
			if json.Unmarshal(val, &cd) == nil {
				chanDir = string(cd.Direction)
			}
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return jsonCDR{}, malformed("not JSON: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return jsonCDR{}, malformed("data after the JSON object")
	}

	vars, err := decodeVars(rawVars)
	if err != nil {
		return jsonCDR{}, err
	}
	if vars["direction"] == "" && chanDir != "" {
		vars["direction"] = chanDir
	}
	doc := jsonCDR{vars: vars}
	var flows []callflow
	for _, raw := range callflows {
		var cf callflow
		if json.Unmarshal(raw, &cf) == nil {
			flows = append(flows, cf)
		}
	}
	if len(flows) > 0 {
		doc.profile = flows[0].CallerProfile.profile()
		// Times from the callflow when the variables lack them: the
		// oldest profile was created when the leg started.
		fill := func(k, v string) {
			if vars[k] == "" && vars[strings.TrimSuffix(k, "uepoch")+"epoch"] == "" && v != "" {
				vars[k] = v
			}
		}
		fill("start_uepoch", string(flows[len(flows)-1].Times.CreatedTime))
		fill("answer_uepoch", string(flows[0].Times.AnsweredTime))
		fill("end_uepoch", string(flows[0].Times.HangupTime))
	}
	return doc, nil
}

func firstByte(b []byte) byte {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

// decodeVars reads the variables object, URL-decoding its values when
// the record was written with encode-values=true.
func decodeVars(raw json.RawMessage) (map[string]string, error) {
	vars := map[string]string{}
	if firstByte(raw) != '{' {
		return vars, nil // absent or null: the callflow may still do
	}
	var m map[string]jsonText
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, malformed("variables: %v", err)
	}
	encoded, escapes := true, false
	for k, v := range m {
		s := string(v)
		vars[k] = s
		if strings.ContainsAny(s, urlUnsafe) {
			encoded = false
		}
		if !escapes && hasEscape(s) {
			escapes = true
		}
	}
	if encoded && escapes {
		for k, v := range vars {
			if d, err := url.PathUnescape(v); err == nil {
				vars[k] = d
			}
		}
	}
	return vars, nil
}

// urlUnsafe is FreeSWITCH's SWITCH_URL_UNSAFE without '%': the characters
// switch_url_encode never leaves in a value.
const urlUnsafe = "\r\n #&+:;<=>?@[\\]^`{|}\""

// hasEscape reports whether s holds a %XX escape.
func hasEscape(s string) bool {
	for i := strings.IndexByte(s, '%'); i >= 0 && i+2 < len(s); {
		if isHexDigit(s[i+1]) && isHexDigit(s[i+2]) {
			return true
		}
		j := strings.IndexByte(s[i+1:], '%')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return false
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// callflow is one element of a record's callflow.
type callflow struct {
	CallerProfile jsonProfile `json:"caller_profile"`
	Times         struct {
		CreatedTime  jsonText `json:"created_time"`
		AnsweredTime jsonText `json:"answered_time"`
		HangupTime   jsonText `json:"hangup_time"`
	} `json:"times"`
}

type jsonProfile struct {
	Username          jsonText `json:"username"`
	CallerIDName      jsonText `json:"caller_id_name"`
	CallerIDNumber    jsonText `json:"caller_id_number"`
	DestinationNumber jsonText `json:"destination_number"`
	UUID              jsonText `json:"uuid"`
	ChanName          jsonText `json:"chan_name"`
	Context           jsonText `json:"context"`
	Originator        *struct {
		Profiles profileList `json:"originator_caller_profiles"`
	} `json:"originator"`
	Originatee *struct {
		Profiles profileList `json:"originatee_caller_profiles"`
	} `json:"originatee"`
}

func (p *jsonProfile) profile() CallerProfile {
	cp := CallerProfile{
		Username:          string(p.Username),
		CallerIDName:      string(p.CallerIDName),
		CallerIDNumber:    string(p.CallerIDNumber),
		DestinationNumber: string(p.DestinationNumber),
		UUID:              string(p.UUID),
		ChannelName:       string(p.ChanName),
		Context:           string(p.Context),
	}
	if p.Originator != nil && len(p.Originator.Profiles) > 0 {
		cp.OriginatorUUID = string(p.Originator.Profiles[0].UUID)
		cp.OriginatorChannel = string(p.Originator.Profiles[0].ChanName)
	}
	if p.Originatee != nil {
		for _, o := range p.Originatee.Profiles {
			if o.ChanName != "" {
				cp.OriginateeChannels = append(cp.OriginateeChannels, string(o.ChanName))
			}
		}
	}
	return cp
}

// profileList is a list of caller profiles that also accepts a single
// object.
type profileList []struct {
	UUID     jsonText `json:"uuid"`
	ChanName jsonText `json:"chan_name"`
}

func (l *profileList) UnmarshalJSON(b []byte) error {
	type list profileList
	if firstByte(b) == '{' {
		var one [1]struct {
			UUID     jsonText `json:"uuid"`
			ChanName jsonText `json:"chan_name"`
		}
		if err := json.Unmarshal(b, &one[0]); err != nil {
			return err
		}
		*l = one[:]
		return nil
	}
	if firstByte(b) != '[' {
		*l = nil
		return nil
	}
	return json.Unmarshal(b, (*list)(l))
}

// jsonText is a JSON scalar as text: FreeSWITCH writes strings, but a
// number, boolean or null is accepted, and an object or array is empty.
type jsonText string

func (t *jsonText) UnmarshalJSON(b []byte) error {
	switch firstByte(b) {
	case '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = jsonText(s)
	case '{', '[', 'n':
		*t = ""
	default:
		*t = jsonText(bytes.TrimSpace(b))
	}
	return nil
}
