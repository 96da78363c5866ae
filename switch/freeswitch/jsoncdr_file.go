package freeswitch

import (
	"bytes"
	"net/url"

	"github.com/switchboard-voip/switchboard/cdr"
)

// ParseJSONCDRFile parses one file mod_json_cdr wrote to its err-log-dir
// after its last POST attempt failed (`<uuid>.cdr.json`, or
// `a_<uuid>.cdr.json` with prefix-a-leg=true). The file holds the body
// that would have been POSTed, without the `cdr=` form key a POST
// carries, plus a newline (recorded on 1.10.12, fidelity/3-json-cdr):
//
//	encode=false   the JSON itself
//	encode=true    the URL-encoded JSON (%7B%22core-uuid%22…)
//	encode=base64  the base64 JSON
//
// so the file's form is told from its first bytes, not from a content
// type. A POST body (cdr=…) is read too, so that a body saved by hand
// imports alike.
func ParseJSONCDRFile(body []byte, opt JSONCDROptions) (cdr.Record, error) {
	if opt.Switch == "" {
		return cdr.Record{}, errNoSwitch
	}
	doc, err := unwrapFile(bytes.TrimSpace(body))
	if err != nil {
		return cdr.Record{}, err
	}
	return ParseJSONCDR(doc, opt)
}

func unwrapFile(b []byte) ([]byte, error) {
	switch {
	case len(b) == 0:
		return nil, malformed("empty file")
	case b[0] == '{':
		return b, nil
	case bytes.HasPrefix(b, []byte("cdr=")):
		return unwrapPost("", b)
	case len(b) >= 3 && b[0] == '%' && (bytes.EqualFold(b[:3], []byte("%7B"))):
		// PathUnescape, not QueryUnescape: a literal '+' in the
		// document stays a '+' (FreeSWITCH escapes spaces as %20).
		s, err := url.PathUnescape(string(b))
		if err != nil {
			return nil, malformed("URL-encoded file: %v", err)
		}
		return []byte(s), nil
	default:
		return decodeBase64JSON(b)
	}
}
