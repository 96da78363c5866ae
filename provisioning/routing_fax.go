package provisioning

import "net/mail"

// Fax: a fax box is a routing object a call can be sent to (a DID of
// its own, or an extension whose call flow detects fax tones); the
// switch that took the call receives the fax (FreeSWITCH mod_spandsp
// rxfax, Asterisk ReceiveFAX with res_fax_spandsp, T.38 or G.711) into a
// TIFF, and its adapter hands it to DepositFax (fax_messages.go), which
// keeps it as a PDF, lists it and e-mails it to the box's address.
const (
	KindFax RoutingKind = "fax"
	DestFax DestKind    = "fax"
)

// FaxBox receives faxes. Number, when set, is its number in the tenant's
// plan; Email gets every fax received, as a PDF.
type FaxBox struct {
	RoutingMeta
	Number string `json:"number"`
	Name   string `json:"name"`
	Email  string `json:"email"`
}

func (b *FaxBox) kind() RoutingKind { return KindFax }
func (b *FaxBox) label() string {
	if b.Number != "" {
		return "fax " + b.Number
	}
	return "fax " + b.Name
}

func (b *FaxBox) key() string {
	if b.Number == "" {
		return ""
	}
	return planKey(b.Number)
}

func (b *FaxBox) validate() error {
	if b.Number != "" {
		if err := checkPlanNumber("number", b.Number); err != nil {
			return err
		}
	}
	if err := checkText("name", b.Name, MaxNameLen, true); err != nil {
		return err
	}
	if b.Email != "" {
		a, err := mail.ParseAddress(b.Email)
		if err != nil || a.Address != b.Email || a.Name != "" {
			return Invalid("email", "must be an e-mail address like fax@example.com")
		}
	}
	return nil
}

// refs: a fax box points nowhere (it ends the call).
func (b *FaxBox) refs() []RoutingRef { return nil }
