package asterisk

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/CyCoreSystems/ari/v6"

	"github.com/switchboard-voip/switchboard/switch/presence"
)

var _ presence.CallController = (*Adapter)(nil)

// OriginateContext is the dialplan context an originated call continues in
// once the phone answers: the context of the phones (PushOptions'
// PhoneContext), so the callback is routed exactly like a call the phone
// dials itself, with the same checks.
const OriginateContext = "phones"

// GatewayVar is the channel variable Originate sets to the request's
// Gateway. Asterisk has no way to name a trunk in an originate to an
// extension, so the dialplan of OriginateContext must use it for numbers:
//
//	exten => _X.,1,GotoIf($["${SWITCHBOARD_GATEWAY}" = ""]?local)
//	 same => n,Dial(PJSIP/${EXTEN}@${SWITCHBOARD_GATEWAY},60)
//	 same => n,Hangup()
//	 same => n(local),Dial(PJSIP/${EXTEN},60)
const GatewayVar = "SWITCHBOARD_GATEWAY"

// defaultOriginateTimeout is how long the phone rings when the request
// says nothing: ARI's own default.
const defaultOriginateTimeout = 30

// Originate places a call on the node: it rings req.From's endpoint (the
// phone rings first, as in a callback) and, once answered, continues in
// OriginateContext at extension req.To, priority 1, with req.Gateway in
// GatewayVar. The caller ID the phone shows is req.CallerName and
// req.CallerNumber; req.Timeout bounds the ringing (30 s when zero).
//
// The channel id is chosen here and sent as channelId, so the returned id
// (the phone's leg, the one presence and the CDRs carry) is known before
// any event about it arrives and Hangup can end the call at once.
//
// From and To are account AORs or plain users; a domain equal to the
// node's Domain is dropped, since endpoints of that domain are named by
// user alone, and any other is kept (PushOptions.IDWithDomain names).
func (a *Adapter) Originate(ctx context.Context, req presence.OriginateRequest) (string, error) {
	from := a.endpointID(req.From)
	if from == "" || strings.ContainsAny(from, "/&") {
		return "", fmt.Errorf("asterisk: originate: bad caller %q", req.From)
	}
	to := a.endpointID(req.To)
	if to == "" {
		return "", fmt.Errorf("asterisk: originate from %s: empty destination", from)
	}
	id, err := newChannelID()
	if err != nil {
		return "", fmt.Errorf("asterisk: originate: %w", err)
	}
	timeout := defaultOriginateTimeout
	if req.Timeout > 0 {
		timeout = int(math.Ceil(req.Timeout.Seconds()))
	}
	or := ari.OriginateRequest{
		Endpoint:  "PJSIP/" + from,
		Extension: to,
		Context:   OriginateContext,
		Priority:  1,
		Timeout:   timeout,
		ChannelID: id,
	}
	if req.CallerName != "" || req.CallerNumber != "" {
		or.CallerID = callerID(req.CallerName, req.CallerNumber)
	}
	if req.Gateway != "" {
		or.Variables = map[string]string{GatewayVar: req.Gateway}
	}
	q, body := originateParams(or)
	var ch struct {
		ID string `json:"id"`
	}
	if err := a.rest.send(ctx, http.MethodPost, "/channels", q, body, &ch); err != nil {
		return "", fmt.Errorf("asterisk: originate from %s to %s: %w", from, to, err)
	}
	if ch.ID != "" && ch.ID != id {
		// An Asterisk that ignored channelId: its id is the true one.
		id = ch.ID
	}
	return id, nil
}

// Hangup ends a channel of the node (normal clearing, Q.850 cause 16). A
// channel Asterisk does not know (never existed or already gone) gives an
// error wrapping presence.ErrUnknownCall.
func (a *Adapter) Hangup(ctx context.Context, callID string) error {
	if callID == "" {
		return fmt.Errorf("asterisk: hangup: empty call id: %w", presence.ErrUnknownCall)
	}
	err := a.rest.do(ctx, http.MethodDelete, "/channels/"+url.PathEscape(callID), url.Values{"reason": {"normal"}}, nil)
	var re *RequestError
	if errors.As(err, &re) && re.Status == http.StatusNotFound {
		return fmt.Errorf("asterisk: hangup %q: %w: %w", callID, presence.ErrUnknownCall, err)
	}
	if err != nil {
		return fmt.Errorf("asterisk: hangup %q: %w", callID, err)
	}
	return nil
}

// endpointID maps an account's AOR (or a bare user or number) onto the
// endpoint id or extension Asterisk knows it by.
func (a *Adapter) endpointID(aor string) string {
	aor = strings.TrimSpace(strings.TrimPrefix(aor, "sip:"))
	if u, d, ok := strings.Cut(aor, "@"); ok && a.cfg.Domain != "" && strings.EqualFold(d, a.cfg.Domain) {
		return u
	}
	return aor
}

// newChannelID returns a fresh channel id; Asterisk keeps it as the
// channel's uniqueid (at most 150 characters).
func newChannelID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "sb-" + hex.EncodeToString(b[:]), nil
}

// originateParams splits an originate into what ARI reads from the query
// string (every scalar parameter, as Asterisk's own examples send them)
// and the JSON body, the only place variables travel: {"variables": {…}}.
func originateParams(r ari.OriginateRequest) (url.Values, map[string]map[string]string) {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("endpoint", r.Endpoint)
	set("extension", r.Extension)
	set("context", r.Context)
	if r.Priority != 0 {
		q.Set("priority", strconv.FormatInt(r.Priority, 10))
	}
	set("label", r.Label)
	set("app", r.App)
	set("appArgs", r.AppArgs)
	set("callerId", r.CallerID)
	if r.Timeout != 0 {
		q.Set("timeout", strconv.Itoa(r.Timeout))
	}
	set("channelId", r.ChannelID)
	set("otherChannelId", r.OtherChannelID)
	set("originator", r.Originator)
	set("formats", r.Formats)
	vars := r.Variables
	if vars == nil {
		vars = map[string]string{}
	}
	return q, map[string]map[string]string{"variables": vars}
}

// send is do with a JSON body.
func (c *restClient) send(ctx context.Context, method, path string, query url.Values, body, out any) error {
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("asterisk: %s %s: %w", method, path, err)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("asterisk: %s %s: %w", method, path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.user != "" || c.password != "" {
		req.SetBasicAuth(c.user, c.password)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("asterisk: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("asterisk: %w", responseError(resp))
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(out); err != nil {
		return fmt.Errorf("asterisk: %s %s: decoding the answer: %w", method, path, err)
	}
	return nil
}
