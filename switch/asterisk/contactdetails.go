package asterisk

import (
	"crypto/md5"
	"encoding/hex"
	"net"
	"strconv"
	"time"
)

// PJSIPContact is the sorcery type of a registered contact. Switchboard
// never pushes contacts; it reads them (GET
// /asterisk/config/dynamic/res_pjsip/contact/{id}) for what no event
// carries: the phone's user agent, when its registration expires and
// where its REGISTER came from. Asterisk 23 lists no contacts through
// ARI (405) and has no contact_status type (404): a contact's qualify
// status and round-trip time are known only from ContactStatusChange.
const PJSIPContact ObjectType = "contact"

// ContactID is the sorcery id Asterisk gives the contact uri registered
// to aor: "aor;@" and the MD5 of the URI in hex (res_pjsip location.c;
// the recorded "1001;@05b159396a728bfe3eaa865b94eca3fa" is the MD5 of
// "sip:1001@127.0.0.1:5071"). The same URI registered again keeps its id.
func ContactID(aor, uri string) string {
	sum := md5.Sum([]byte(uri))
	return aor + ";@" + hex.EncodeToString(sum[:])
}

// ContactDetails is what a contact object says beyond its URI.
type ContactDetails struct {
	UserAgent string
	// Expires is when the registration lapses unless refreshed (the
	// absolute expiration_time); zero when Asterisk did not say.
	Expires time.Time
	// Source is the host:port the REGISTER came from (via_addr and
	// via_port); empty when Asterisk did not say.
	Source string
	// QualifySecs is the contact's OPTIONS interval; 0 means Asterisk
	// does not qualify it, so its status is NonQualified.
	QualifySecs int
}

// parseContactDetails reads the fields of a contact object.
func parseContactDetails(fs []Field) ContactDetails {
	var d ContactDetails
	var addr, port string
	for _, f := range fs {
		switch f.Attribute {
		case "user_agent":
			d.UserAgent = f.Value
		case "expiration_time":
			if s, err := strconv.ParseInt(f.Value, 10, 64); err == nil && s > 0 {
				d.Expires = time.Unix(s, 0).UTC()
			}
		case "via_addr":
			addr = f.Value
		case "via_port":
			port = f.Value
		case "qualify_frequency":
			if n, err := strconv.Atoi(f.Value); err == nil && n > 0 {
				d.QualifySecs = n
			}
		}
	}
	if addr != "" && port != "" && port != "0" {
		d.Source = net.JoinHostPort(addr, port)
	}
	return d
}
