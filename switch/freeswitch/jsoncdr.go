// mod_json_cdr's records: one JSON document per call leg, POSTed to
// Switchboard (jsoncdr_http.go) or written as <uuid>.cdr.json files (cdr
// import). LegRecord holds the mapping from channel variables to a
// cdr.Record so that CDRs derived from CHANNEL_HANGUP_COMPLETE events,
// which carry the same variables, come out the same.

package freeswitch

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
)

// JSONCDROptions tells the parser what the records do not say.
type JSONCDROptions struct {
	// Switch is the switch name recorded in every Record. Required.
	Switch string
	// IsGateway, when set, restricts the gateway names FreeSWITCH reports
	// (sip_gateway_name, sip_gateway, sofia/gateway/<name>/… channels) to
	// those it accepts; the others count as local legs. Nil accepts all.
	IsGateway func(name string) bool
	// OutsideProfiles are the sofia profiles calls from outside arrive
	// on; nil means {"external"}, FreeSWITCH's gateway profile.
	OutsideProfiles []string
	// OutsideContexts are the dialplan contexts of calls from outside;
	// nil means {"public"}, where FreeSWITCH puts every unauthenticated
	// call (the phones' authenticated calls are in their user_context).
	OutsideContexts []string
}

// outside reports whether a leg on channel ch (sofia/<profile>/…) in
// dialplan context dpContext came from outside the switch.
func (o *JSONCDROptions) outside(ch, dpContext string) bool {
	profiles, contexts := o.OutsideProfiles, o.OutsideContexts
	if profiles == nil {
		profiles = []string{"external"}
	}
	if contexts == nil {
		contexts = []string{"public"}
	}
	p, c := channelProfile(ch), strings.TrimSpace(dpContext)
	return p != "" && slices.Contains(profiles, p) || c != "" && slices.Contains(contexts, c)
}

// channelProfile returns the profile of a sofia/<profile>/… channel name
// ("" for anything else, sofia/gateway/… included).
func channelProfile(ch string) string {
	rest, ok := strings.CutPrefix(strings.TrimSpace(ch), "sofia/")
	if !ok {
		return ""
	}
	p, _, ok := strings.Cut(rest, "/")
	if !ok || p == "gateway" {
		return ""
	}
	return p
}

// ErrMalformedCDR is wrapped by every error about the content of a record
// (not JSON, no uuid, no end time…): the caller dead-letters such a record
// rather than retrying it.
var ErrMalformedCDR = errors.New("freeswitch: malformed CDR")

// errNoSwitch is a caller's mistake, not the record's.
var errNoSwitch = errors.New("freeswitch: JSONCDROptions.Switch is required")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformedCDR, fmt.Sprintf(format, args...))
}

// CallerProfile is the part of a FreeSWITCH caller profile a CDR needs. In
// a json_cdr record it is callflow[0].caller_profile (the newest profile);
// in an ESL event, the Caller-* headers (Caller-Caller-ID-Number,
// Caller-Destination-Number, Caller-Username, Caller-Unique-ID,
// Caller-Channel-Name) and Other-Leg-* for the originator.
type CallerProfile struct {
	Username          string
	CallerIDName      string
	CallerIDNumber    string
	DestinationNumber string
	UUID              string
	ChannelName       string
	// OriginatorUUID and OriginatorChannel name the leg that originated
	// this one (b-legs); OriginateeChannels the legs this one originated.
	OriginatorUUID     string
	OriginatorChannel  string
	OriginateeChannels []string
	// Context is the dialplan context (json_cdr's caller_profile
	// context, ESL's Caller-Context); a b-leg inherits its a-leg's.
	Context string
}

// LegRecord builds the Record of one call leg from its channel variables
// (plain values, not URL-encoded) and caller profile. Raw is left to the
// caller. The mapping:
//
//   - CallID = uuid. LinkedID = the a-leg's uuid: originator (or
//     originating_leg_uuid) on a b-leg, the leg's own uuid on an a-leg.
//     bridge_uuid and call_uuid are not used: the recordings show
//     call_uuid naming the b-leg itself after a bridge.
//   - Direction. FreeSWITCH's own direction is relative to the switch: an
//     a-leg (a phone or a gateway calling in) is "inbound", a b-leg it
//     originates is "outbound". Ours is relative to the call: a call from
//     a local account to a gateway is outbound, from a gateway to a local
//     account inbound, between local accounts internal, and both legs get
//     the call's direction. An a-leg is inbound when it comes from a
//     gateway (sip_gateway_name / sip_gateway set by sofia), outbound when
//     it was bridged to sofia/gateway/…, internal otherwise. A b-leg is
//     outbound when it goes to a gateway, inbound when its originator's
//     channel is a gateway channel, internal otherwise. FreeSWITCH marks an
//     a-leg from a gateway only on the a-leg: a b-leg to a phone of such a
//     call reads internal unless the originator's channel name says
//     otherwise; its LinkedID leads to the inbound a-leg. A call from
//     outside that matches no provisioned gateway (a carrier calling a DID
//     from an address no gateway names, seen live on FreeSWITCH 1.10.12)
//     is inbound too, with no gateway: an a-leg on an outside profile
//     (OutsideProfiles, its channel sofia/external/…) or in an outside
//     context (OutsideContexts, public), a b-leg whose originator's
//     channel is on an outside profile or that inherited an outside
//     context. Whatever the source address: FreeSWITCH says where a call
//     came in, not whom from.
//   - Domain = domain_name, else dialed_domain, else (a-legs) sip_req_host.
//   - Account = the local user of the leg: user_name or sip_auth_username
//     on an a-leg from a phone, dialed_user on a b-leg to a phone; for a
//     gateway a-leg the dialed_user it reached, for a gateway b-leg the
//     caller profile's username, which FreeSWITCH copies from the a-leg.
//   - Gateway = the gateway of the leg, or of the bridge target on an
//     a-leg.
//   - CallerNumber, CallerName, Dialed = the caller profile's
//     caller_id_number, caller_id_name and destination_number (the
//     variables of the same names, then sip_from_user / sip_from_display /
//     sip_req_user, when the profile lacks them).
//   - Destination = number@gateway for a gateway leg or target, else
//     dialed_user (the phone bridged to), else on a b-leg the profile's
//     destination_number, else last_app (echo, hangup…).
//   - Start, Answer, End from start_uepoch / answer_uepoch / end_uepoch
//     (microseconds), else the *_epoch seconds; an answer time of 0 means
//     unanswered. Duration and Billsec from duration and billsec, else
//     computed from the times.
//   - Disposition from hangup_cause and whether the leg was answered (see
//     Disposition). Cause = hangup_cause_q850, CauseText = hangup_cause.
//   - SIPStatus: what the leg's final SIP answer was. On a refused a-leg
//     (sip_hangup_disposition send_refuse) the code FreeSWITCH sent: the
//     respond application's code, else the b-leg's SIP status it passed on
//     (last_bridge_proto_specific_hangup_cause sip:NNN, unless
//     sip_ignore_remote_cause), else sofia's mapping of the hangup cause
//     (USER_BUSY 486, NO_ANSWER 480, UNALLOCATED_NUMBER 404…, default 480).
//     Otherwise sip_term_status, else sip_invite_failure_status (487 after
//     a CANCEL), else 487 for recv_cancel, else 200 when answered, else
//     proto_specific_hangup_cause sip:NNN, else 0.
//   - Codec = read_codec, else write_codec. UserAgent = sip_user_agent.
func LegRecord(vars map[string]string, prof CallerProfile, opt JSONCDROptions) (cdr.Record, error) {
	return legRecord(func(name string) string { return vars[name] }, prof, opt)
}

// legRecord is LegRecord of the variables get returns (names in lower
// case): a CDR made from an event reads its few dozen variables straight
// from the event (Event.variable) instead of a map of all of them (issue
// 12 item 14).
func legRecord(get func(name string) string, prof CallerProfile, opt JSONCDROptions) (cdr.Record, error) {
	if opt.Switch == "" {
		return cdr.Record{}, errNoSwitch
	}
	v := func(k string) string { return strings.TrimSpace(get(k)) }
	rec := cdr.Record{
		Switch:    opt.Switch,
		CallID:    first(v("uuid"), strings.TrimSpace(prof.UUID)),
		CauseText: v("hangup_cause"),
		Codec:     first(v("read_codec"), v("write_codec")),
		UserAgent: v("sip_user_agent"),
	}
	if rec.CallID == "" {
		return cdr.Record{}, malformed("no uuid")
	}
	rec.LinkedID = first(v("originator"), v("originating_leg_uuid"), strings.TrimSpace(prof.OriginatorUUID), rec.CallID)

	var err error
	start, err := epochVar(v, "start")
	if err != nil {
		return cdr.Record{}, err
	}
	answer, err := epochVar(v, "answer")
	if err != nil {
		return cdr.Record{}, err
	}
	end, err := epochVar(v, "end")
	if err != nil {
		return cdr.Record{}, err
	}
	switch {
	case end.IsZero():
		return cdr.Record{}, malformed("no end time (end_uepoch/end_epoch)")
	case start.IsZero():
		return cdr.Record{}, malformed("no start time (start_uepoch/start_epoch)")
	case end.Before(start):
		return cdr.Record{}, malformed("end before start")
	}
	rec.Start, rec.End = start, end
	answered := !answer.IsZero()
	if answered {
		rec.Answer = &answer
	}
	if rec.Duration, err = secondsVar(v, "duration", start, end); err != nil {
		return cdr.Record{}, err
	}
	billFrom := answer
	if !answered {
		billFrom = end
	}
	if rec.Billsec, err = secondsVar(v, "billsec", billFrom, end); err != nil {
		return cdr.Record{}, err
	}
	if n, err := strconv.Atoi(v("hangup_cause_q850")); err == nil && n >= 0 && n <= math.MaxInt16 {
		rec.Cause = n
	}
	rec.Disposition = Disposition(rec.CauseText, answered)
	rec.SIPStatus = sipStatus(v, rec.CauseText, answered)

	rec.CallerNumber = first(prof.CallerIDNumber, v("caller_id_number"), v("sip_from_user"))
	rec.CallerName = first(prof.CallerIDName, v("caller_id_name"), v("sip_from_display"))
	rec.Dialed = first(prof.DestinationNumber, v("destination_number"), v("sip_req_user"), v("sip_to_user"))

	bLeg := v("direction") == "outbound"
	rec.Domain = first(v("domain_name"), v("dialed_domain"))
	if rec.Domain == "" && !bLeg {
		rec.Domain = v("sip_req_host")
	}
	ownGW := opt.gateway(first(v("sip_gateway_name"), v("sip_gateway"), channelGateway(first(v("channel_name"), prof.ChannelName))))
	if bLeg {
		otherGW := opt.gateway(channelGateway(prof.OriginatorChannel))
		switch {
		case ownGW != "":
			rec.Direction, rec.Gateway = cdr.DirectionOutbound, ownGW
			rec.Account = strings.TrimSpace(prof.Username)
			rec.Destination = atGateway(first(prof.DestinationNumber, v("sip_to_user")), ownGW)
		case otherGW != "":
			rec.Direction, rec.Gateway, rec.Account = cdr.DirectionInbound, otherGW, v("dialed_user")
		case opt.outside(prof.OriginatorChannel, prof.Context):
			rec.Direction, rec.Account = cdr.DirectionInbound, v("dialed_user")
		default:
			rec.Direction, rec.Account = cdr.DirectionInternal, v("dialed_user")
		}
		if rec.Destination == "" {
			rec.Destination = first(v("dialed_user"), prof.DestinationNumber)
		}
		return rec, nil
	}
	targetGW, targetNumber := bridgeGateway(v, prof)
	targetGW = opt.gateway(targetGW)
	switch {
	case ownGW != "":
		rec.Direction, rec.Gateway, rec.Account = cdr.DirectionInbound, ownGW, v("dialed_user")
	case targetGW != "":
		rec.Direction, rec.Gateway = cdr.DirectionOutbound, targetGW
		rec.Account = first(v("user_name"), v("sip_auth_username"))
		rec.Destination = atGateway(targetNumber, targetGW)
	case opt.outside(first(v("channel_name"), prof.ChannelName), prof.Context):
		rec.Direction, rec.Account = cdr.DirectionInbound, v("dialed_user")
	default:
		rec.Direction = cdr.DirectionInternal
		rec.Account = first(v("user_name"), v("sip_auth_username"))
	}
	if rec.Destination == "" {
		rec.Destination = first(v("dialed_user"), v("last_app"))
	}
	return rec, nil
}

func (o *JSONCDROptions) gateway(name string) string {
	if name == "" || (o.IsGateway != nil && !o.IsGateway(name)) {
		return ""
	}
	return name
}

// first returns the first non-blank value, trimmed.
func first(vals ...string) string {
	for _, s := range vals {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return ""
}

func atGateway(number, gw string) string {
	if number == "" {
		return gw
	}
	return number + "@" + gw
}

// epochVar reads <name>_uepoch, else <name>_epoch; 0 or absent is no time.
// FreeSWITCH writes UTC epochs; the result is in UTC.
func epochVar(v func(string) string, name string) (time.Time, error) {
	if s := v(name + "_uepoch"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 || n > maxEpoch*1e6 {
			return time.Time{}, malformed("%s_uepoch %q is not a time", name, s)
		}
		if n > 0 {
			return time.UnixMicro(n).UTC(), nil
		}
	}
	if s := v(name + "_epoch"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 || n > maxEpoch {
			return time.Time{}, malformed("%s_epoch %q is not a time", name, s)
		}
		if n > 0 {
			return time.Unix(n, 0).UTC(), nil
		}
	}
	return time.Time{}, nil
}

// maxEpoch (year 2200) bounds the epochs accepted as times.
const maxEpoch = 7258118400

// secondsVar reads a whole number of seconds, or computes it from the
// times when the variable is absent.
func secondsVar(v func(string) string, name string, from, to time.Time) (int, error) {
	s := v(name)
	if s == "" {
		return int(to.Sub(from) / time.Second), nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > math.MaxInt32 {
		return 0, malformed("%s %q is not a number of seconds", name, s)
	}
	return n, nil
}

// Disposition maps a FreeSWITCH hangup cause and whether the leg was
// answered to Asterisk's vocabulary, the one billing speaks:
//
//	answered, whatever the cause                          ANSWERED
//	USER_BUSY                                             BUSY
//	NO_ANSWER, NO_USER_RESPONSE, ORIGINATOR_CANCEL,
//	NORMAL_CLEARING, PROGRESS_TIMEOUT, LOSE_RACE,
//	PICKED_OFF                                            NO ANSWER
//	NORMAL_TEMPORARY_FAILURE, SWITCH_CONGESTION,
//	NORMAL_CIRCUIT_CONGESTION, REQUESTED_CHAN_UNAVAIL,
//	NETWORK_OUT_OF_ORDER, GATEWAY_DOWN                    CONGESTION
//	anything else (USER_NOT_REGISTERED,
//	UNALLOCATED_NUMBER, CALL_REJECTED…)                   FAILED
//
// An unanswered NORMAL_CLEARING is a caller who gave up, as Asterisk
// counts it; LOSE_RACE and PICKED_OFF are the legs of a ring group another
// phone answered.
func Disposition(hangupCause string, answered bool) cdr.Disposition {
	if answered {
		return cdr.Answered
	}
	switch strings.ToUpper(strings.TrimSpace(hangupCause)) {
	case "USER_BUSY":
		return cdr.Busy
	case "NO_ANSWER", "NO_USER_RESPONSE", "ORIGINATOR_CANCEL", "NORMAL_CLEARING",
		"PROGRESS_TIMEOUT", "LOSE_RACE", "PICKED_OFF":
		return cdr.NoAnswer
	case "NORMAL_TEMPORARY_FAILURE", "SWITCH_CONGESTION", "NORMAL_CIRCUIT_CONGESTION",
		"REQUESTED_CHAN_UNAVAIL", "NETWORK_OUT_OF_ORDER", "GATEWAY_DOWN":
		return cdr.Congestion
	}
	return cdr.Failed
}

// sipStatus works out the leg's final SIP status; see LegRecord.
func sipStatus(v func(string) string, cause string, answered bool) int {
	disp := v("sip_hangup_disposition")
	if disp == "send_refuse" {
		if strings.EqualFold(v("last_app"), "respond") {
			if n := leadingStatus(v("last_arg")); n > 0 {
				return n
			}
		}
		if !isTrue(v("sip_ignore_remote_cause")) {
			if n := protoStatus(v("last_bridge_proto_specific_hangup_cause")); n > 0 {
				return n
			}
		}
		return causeToSIP(cause)
	}
	for _, k := range []string{"sip_term_status", "sip_invite_failure_status"} {
		if n := leadingStatus(v(k)); n > 0 {
			return n
		}
	}
	switch {
	case disp == "recv_cancel":
		return 487
	case answered:
		return 200
	}
	return protoStatus(v("proto_specific_hangup_cause"))
}

// protoStatus reads sip:NNN (or sips:NNN).
func protoStatus(s string) int {
	s = strings.ToLower(s)
	for _, p := range []string{"sip:", "sips:"} {
		if rest, ok := strings.CutPrefix(s, p); ok {
			return leadingStatus(rest)
		}
	}
	return 0
}

// leadingStatus reads a SIP status code at the start of s ("486 Busy").
func leadingStatus(s string) int {
	code, _, _ := strings.Cut(strings.TrimSpace(s), " ")
	n, err := strconv.Atoi(code)
	if err != nil || n < 100 || n > 699 {
		return 0
	}
	return n
}

func isTrue(s string) bool {
	switch strings.ToLower(s) {
	case "true", "yes", "on", "1", "enabled", "active", "allow":
		return true
	}
	return false
}

// causeToSIP is mod_sofia's hangup_cause_to_sip (RFC 4497 section 8.4.1):
// the response FreeSWITCH sends when it refuses a call for a cause.
func causeToSIP(cause string) int {
	switch strings.ToUpper(cause) {
	case "UNALLOCATED_NUMBER", "NO_ROUTE_TRANSIT_NET", "NO_ROUTE_DESTINATION":
		return 404
	case "USER_BUSY":
		return 486
	case "NO_USER_RESPONSE":
		return 408
	case "NO_ANSWER", "SUBSCRIBER_ABSENT", "NORMAL_UNSPECIFIED":
		return 480
	case "CALL_REJECTED":
		return 603
	case "NUMBER_CHANGED", "REDIRECTION_TO_NEW_DESTINATION":
		return 410
	case "DESTINATION_OUT_OF_ORDER", "INVALID_PROFILE":
		return 502
	case "INVALID_NUMBER_FORMAT", "INVALID_URL", "INVALID_GATEWAY":
		return 484
	case "FACILITY_REJECTED", "FACILITY_NOT_IMPLEMENTED", "SERVICE_NOT_IMPLEMENTED":
		return 501
	case "REQUESTED_CHAN_UNAVAIL", "NORMAL_CIRCUIT_CONGESTION", "NETWORK_OUT_OF_ORDER",
		"NORMAL_TEMPORARY_FAILURE", "SWITCH_CONGESTION", "GATEWAY_DOWN", "BEARERCAPABILITY_NOTAVAIL":
		return 503
	case "OUTGOING_CALL_BARRED", "INCOMING_CALL_BARRED", "BEARERCAPABILITY_NOTAUTH":
		return 403
	case "BEARERCAPABILITY_NOTIMPL", "INCOMPATIBLE_DESTINATION":
		return 488
	case "RECOVERY_ON_TIMER_EXPIRE":
		return 504
	case "ORIGINATOR_CANCEL":
		return 487
	case "EXCHANGE_ROUTING_ERROR":
		return 483
	}
	return 480
}

// channelGateway returns the gateway of a sofia/gateway/<gw>/<number>
// channel or dial string ("" for anything else). A profile-qualified name
// (profile::gw) gives the gateway part.
func channelGateway(ch string) string {
	gw, _ := gatewayTarget(ch)
	return gw
}

// gatewayTarget finds sofia/gateway/<gw>/<number> in a channel name or a
// bridge dial string ({vars}sofia/gateway/gw1/555|…).
func gatewayTarget(s string) (gw, number string) {
	const marker = "sofia/gateway/"
	i := strings.Index(s, marker)
	if i < 0 {
		return "", ""
	}
	rest := s[i+len(marker):]
	gw, rest, _ = strings.Cut(rest, "/")
	if j := strings.LastIndex(gw, "::"); j >= 0 {
		gw = gw[j+2:]
	}
	if j := strings.IndexAny(rest, ",|:;[{} "); j >= 0 {
		rest = rest[:j]
	}
	return strings.TrimSpace(gw), strings.TrimSpace(rest)
}

// bridgeGateway finds the gateway an a-leg was bridged to, from the
// bridge application's argument or the originated channels.
func bridgeGateway(v func(string) string, prof CallerProfile) (gw, number string) {
	var cands []string
	if strings.EqualFold(v("last_app"), "bridge") {
		cands = append(cands, v("last_arg"))
	}
	if strings.EqualFold(v("current_application"), "bridge") {
		cands = append(cands, v("current_application_data"))
	}
	cands = append(cands, prof.OriginateeChannels...)
	cands = append(cands, v("bridge_channel"))
	for _, c := range cands {
		if gw, number = gatewayTarget(c); gw != "" {
			return gw, number
		}
	}
	return "", ""
}
