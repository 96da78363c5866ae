package freeswitch

// Parsers of the answers `switchboard doctor` reads over ESL, kept apart
// from the I/O (doctor.go) so that tests and fuzzing feed them strings.
// Each answer is FreeSWITCH's own rendering of its XML (switch_xml_toxml,
// as mod_commands' xml_locate prints it; see esltest/testdata/api-xml-locate-*.txt)
// or sofia's xmlstatus.

import (
	"encoding/xml"
	"strings"
)

// xmlParam is a <param name value [bindings]/>.
type xmlParam struct {
	Name     string `xml:"name,attr"`
	Value    string `xml:"value,attr"`
	Bindings string `xml:"bindings,attr"`
}

// curlBinding is one <binding> of xml_curl.conf: its name and params by
// lower-case name (the gateway-url param's bindings attribute under
// "bindings").
type curlBinding struct {
	Name   string
	Params map[string]string
}

// parseXMLCurlConf reads `xml_locate configuration configuration name
// xml_curl.conf`: every binding with its params.
func parseXMLCurlConf(b []byte) ([]curlBinding, error) {
	var out []curlBinding
	err := eachXMLElement(b, "binding", func(dec *xml.Decoder, start xml.StartElement) error {
		var bind struct {
			Name   string     `xml:"name,attr"`
			Params []xmlParam `xml:"param"`
		}
		if err := dec.DecodeElement(&bind, &start); err != nil {
			return malformedReply("binding: %v", err)
		}
		cb := curlBinding{Name: bind.Name, Params: map[string]string{}}
		for _, p := range bind.Params {
			name := strings.ToLower(p.Name)
			cb.Params[name] = p.Value
			if name == "gateway-url" {
				cb.Params["bindings"] = p.Bindings
			}
		}
		out = append(out, cb)
		return nil
	})
	return out, err
}

// parseSettings reads the <settings> params of a module's configuration
// (`xml_locate configuration configuration name json_cdr.conf`), by
// lower-case name; the last of a repeated name wins, as modules read
// them in order.
func parseSettings(b []byte) (map[string]string, error) {
	m := map[string]string{}
	found := false
	err := eachXMLElement(b, "settings", func(dec *xml.Decoder, start xml.StartElement) error {
		var s struct {
			Params []xmlParam `xml:"param"`
		}
		if err := dec.DecodeElement(&s, &start); err != nil {
			return malformedReply("settings: %v", err)
		}
		found = true
		for _, p := range s.Params {
			m[strings.ToLower(p.Name)] = p.Value
		}
		return nil
	})
	if err == nil && !found {
		return nil, malformedReply("no <settings> in %q", clipBytes(b))
	}
	return m, err
}

// staticUser is a user of FreeSWITCH's own directory.
type staticUser struct {
	Domain, ID string
	// Password is the password param ("" when the user has none, e.g.
	// only an a1-hash).
	Password string
	// Credential tells whether the user can authenticate at all (a
	// password or an a1-hash param).
	Credential bool
}

// parseStaticDirectory reads `xml_locate directory` (the static directory
// section: xml_curl is asked first, and Switchboard answers a lookup
// without a domain not found): every user of every domain, at any depth
// (<groups><group><users>, <users>, or directly under <domain>), without
// the type="pointer" entries that only refer to a user defined elsewhere.
func parseStaticDirectory(b []byte) ([]staticUser, error) {
	var out []staticUser
	err := eachXMLElement(b, "domain", func(dec *xml.Decoder, start xml.StartElement) error {
		domain := xmlAttr(start, "name")
		depth := 1
		var cur *staticUser
		userDepth := 0
		for depth > 0 {
			tok, err := dec.Token()
			if err != nil {
				return malformedReply("domain %q: %v", domain, err)
			}
			switch t := tok.(type) {
			case xml.StartElement:
				depth++
				switch {
				case t.Name.Local == "user" && cur == nil:
					if strings.EqualFold(xmlAttr(t, "type"), "pointer") {
						continue
					}
					cur = &staticUser{Domain: domain, ID: xmlAttr(t, "id")}
					userDepth = depth
				case t.Name.Local == "param" && cur != nil && depth == userDepth+2:
					switch strings.ToLower(xmlAttr(t, "name")) {
					case "password":
						cur.Password = xmlAttr(t, "value")
						cur.Credential = true
					case "a1-hash":
						cur.Credential = true
					}
				}
			case xml.EndElement:
				if cur != nil && depth == userDepth && t.Name.Local == "user" {
					if cur.ID != "" {
						out = append(out, *cur)
					}
					cur = nil
				}
				depth--
			}
		}
		return nil
	})
	return out, err
}

func xmlAttr(e xml.StartElement, name string) string {
	for _, a := range e.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// sofiaEntry is one <profile> or <gateway> of `sofia xmlstatus`.
type sofiaEntry struct {
	Kind  string // profile, gateway
	Name  string
	Data  string
	State string
}

// parseSofiaXMLStatus reads `sofia xmlstatus`: its profiles (one entry
// per listener: a profile with WS and WSS listeners is listed three
// times) and gateways, aliases left out.
func parseSofiaXMLStatus(b []byte) ([]sofiaEntry, error) {
	var out []sofiaEntry
	for _, kind := range []string{"profile", "gateway"} {
		err := eachXMLElement(b, kind, func(dec *xml.Decoder, start xml.StartElement) error {
			var e struct {
				Name  string `xml:"name"`
				Data  string `xml:"data"`
				State string `xml:"state"`
			}
			if err := dec.DecodeElement(&e, &start); err != nil {
				return malformedReply("%s: %v", kind, err)
			}
			out = append(out, sofiaEntry{Kind: kind, Name: strings.TrimSpace(e.Name), Data: strings.TrimSpace(e.Data), State: strings.TrimSpace(e.State)})
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
