package native

import (
	"encoding"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/api"
	"github.com/switchboard-voip/switchboard/switch/presence"
)

// OpenAPIVersion is the version of the OpenAPI specification the document
// follows.
const OpenAPIVersion = "3.0.3"

// obj is a JSON object of the document. encoding/json sorts map keys, so
// the rendered document is stable (it has a golden file).
type obj = map[string]any

// enums are the allowed values of the model's string types, wherever a
// field of that type appears.
var enums = map[reflect.Type][]string{
	reflect.TypeFor[provisioning.Role]():          {string(provisioning.RoleAdmin), string(provisioning.RoleTenantAdmin), string(provisioning.RoleUser)},
	reflect.TypeFor[provisioning.Transport]():     {string(provisioning.TransportUDP), string(provisioning.TransportTCP), string(provisioning.TransportTLS)},
	reflect.TypeFor[presence.GatewayState]():      {string(presence.GatewayUp), string(presence.GatewayDown), string(presence.GatewayUnknown)},
	reflect.TypeFor[presence.ContactStatus]():     {string(presence.ContactReachable), string(presence.ContactUnreachable), string(presence.ContactUnknown)},
	reflect.TypeFor[presence.RegistrationState](): {string(presence.RegRegistered), string(presence.RegUnregistered), string(presence.RegFailed), string(presence.RegUnknown)},
	reflect.TypeFor[api.ProbeKind]():              probeKinds,
	reflect.TypeFor[probeStatus]():                probeStatuses,
	reflect.TypeFor[api.ConfigStatus]():           api.ConfigStatuses,
	reflect.TypeFor[provisioning.DestKind](): {string(provisioning.DestAccount), string(provisioning.DestExtension), string(provisioning.DestHuntGroup),
		string(provisioning.DestCondition), string(provisioning.DestCustom), string(provisioning.DestExternal), string(provisioning.DestHangup), string(provisioning.DestBusy)},
	reflect.TypeFor[provisioning.HuntStrategy]():    {string(provisioning.HuntRingAll), string(provisioning.HuntSequential), string(provisioning.HuntRoundRobin), string(provisioning.HuntRandom)},
	reflect.TypeFor[provisioning.ConditionManual](): {string(provisioning.ManualAuto), string(provisioning.ManualMatch), string(provisioning.ManualMiss)},
	reflect.TypeFor[provisioning.ForwardOn]():       {string(provisioning.ForwardAlways), string(provisioning.ForwardBusy), string(provisioning.ForwardNoAnswer), string(provisioning.ForwardUnreachable)},
	reflect.TypeFor[provisioning.RouteAction]():     {string(provisioning.RouteNormal), string(provisioning.RouteEmergency), string(provisioning.RouteBlock)},
	// A CDR's direction may be empty when the switch did not say; its
	// disposition may not (cdr.Record.Validate).
	reflect.TypeFor[cdr.Direction]():   {string(cdr.DirectionInbound), string(cdr.DirectionOutbound), string(cdr.DirectionInternal), ""},
	reflect.TypeFor[cdr.Disposition](): {string(cdr.Answered), string(cdr.NoAnswer), string(cdr.Busy), string(cdr.Failed), string(cdr.Congestion)},
}

// tagDocs describe the tags of the route table's operations; a tag without
// one is a bug the document refuses to render (redocly's tag-description).
var tagDocs = map[string]string{
	"tenants":             "Tenants: the tree of customers. Every other object belongs to one, and a token's scope is a subtree.",
	"domains":             "SIP domains (realms) of a tenant; unique across Switchboard.",
	"users":               "API users of a tenant, with their role.",
	"accounts":            "SIP accounts (username@domain) phones register with.",
	"gateways":            "SIP trunks to carriers: a tenant's, or shared by all (admins only).",
	"dids":                "Phone numbers (E.164) of a tenant, routed to a destination of its numbering plan (a SIP account, an extension, a hunt group, a condition...).",
	"extensions":          "Numbers of a tenant's numbering plan, each sending calls to a destination, with the caller ID its phones present and an optional find-me/follow-me list.",
	"fax-boxes":           "Fax boxes of the tenant's plan: a call sent to one (a DID of its own, or fax tones detected on a call) is received as a fax by the switch, kept as a PDF and e-mailed to the box's address.",
	"faxes":               "Faxes the boxes received: sender, pages, status, the PDF.",
	"recording-policies":  "A tenant's call recording policy (at most one): record every answered call of the tenant, and how many days recordings are kept. DIDs and extensions can also record their own calls (their record field).",
	"recordings":          "Recorded calls: made by the switch that carried the call, kept here with their audio until their retention ends, found from any CDR of the call.",
	"voicemail-messages":  "Messages left in the voicemail boxes: recorded by the switch that took the call, kept here with their audio; read and delete reach the switch too.",
	"voicemail-boxes":     "Voicemail boxes of the tenant's plan: a call sent to one leaves a message (greetings, maximum length), its owner is told by e-mail and the phone's message-waiting light; the PIN guards listening by phone and is never shown.",
	"ivr-menus":           "Voice menus: a greeting, then each key the caller presses sends the call to a destination (another menu too); timeout and invalid-key destinations, repeats, and optional direct dialling of the tenant's numbers.",
	"hunt-groups":         "Groups of phones rung all at once, in order, round-robin or at random, with a failover destination when nobody answers. Their numbers share the tenant's numbering plan with its extensions.",
	"sounds":              "Audio files of a tenant (greetings, menus, music): uploaded as WAV or MP3, converted once to 8 and 16 kHz mono WAV, the form both switches play.",
	"conditions":          "Time windows (in a time zone), caller-ID lists and a manual night switch: a call goes to match when the condition holds and to miss otherwise.",
	"custom-destinations": "Named outside targets: a number or a SIP URI, through a given gateway or the tenant's outbound routes.",
	"forwards":            "Call forwarding of an account, or of every account of a user: always, on busy, on no answer after a delay, or when the phone is unreachable.",
	"outbound-routes":     "How external numbers leave: dial patterns, the gateways tried in order, digits stripped and prepended; emergency routes first, block routes refuse.",
	"routing":             "What a call to a number does, traced through the tenant's routing.",
	"live":                "The live state the switches report: registrations, gateway status, switch connections, and Switchboard's own SIP probes. Read-only.",
	"cdrs":                "Call detail records: query, CSV export, live stream, and submission.",
	"meta":                "This document.",
}

// servers is where the paths are served: the daemon's own root, whatever
// its address (a relative URL resolves against the document's).
var servers = []any{obj{"url": "/", "description": "the Switchboard daemon serving this document (http.listen)"}}

// rawMessageType is a free-form JSON value (a CDR's raw source record).
var rawMessageType = reflect.TypeFor[json.RawMessage]()

// amountType is an exact amount of money, written as a decimal string
// (internal/money) so that no JSON reader turns it into a float.
var amountType = reflect.TypeFor[money.Amount]()

const amountPattern = `^-?[0-9]+(\.[0-9]{1,9})?$`

// fieldDocs describe fields by JSON name; "Schema.field" entries override
// for one schema.
var fieldDocs = map[string]string{
	"id":                       "assigned by Switchboard",
	"created_at":               "when the object was created",
	"updated_at":               "when the object was last changed",
	"parent_id":                "the parent tenant; null for a root tenant (admins only)",
	"tenant_id":                "the owning tenant",
	"Gateway.tenant_id":        "the owning tenant; null for a shared gateway (admins only)",
	"GatewayCreate.tenant_id":  "the owning tenant; null or absent for a shared gateway (admins only)",
	"GatewayPatch.tenant_id":   "the owning tenant; null for a shared gateway (admins only)",
	"GatewayStatus.tenant_id":  "the owning tenant; null for a shared gateway",
	"domain_id":                "the SIP domain; cannot be changed once created",
	"AccountCreate.domain":     "the SIP domain by name, instead of domain_id; given with domain_id, both must name the same domain",
	"AccountPatch.domain":      "the SIP domain by name; cannot be changed once created",
	"Account.domain":           "the SIP domain's name",
	"Account.tenant_id":        "the tenant owning the account's domain",
	"AccountCreated.tenant_id": "the tenant owning the account's domain",
	"name":                     "the object's name",
	"Tenant.name":              "1 to 100 characters, no hidden characters (control, bidirectional or invisible formatting)",
	"TenantCreate.name":        "1 to 100 characters, no hidden characters (control, bidirectional or invisible formatting)",
	"TenantPatch.name":         "1 to 100 characters, no hidden characters (control, bidirectional or invisible formatting)",
	"first_name":               "at most 100 characters, no hidden characters (control, bidirectional or invisible formatting)",
	"last_name":                "at most 100 characters, no hidden characters (control, bidirectional or invisible formatting)",
	"email":                    "a plain e-mail address such as name@example.com, at most 254 characters",
	"caller_id_name":           "at most 100 characters, no hidden characters (control, bidirectional or invisible formatting), no \" < >",
	"Domain.name":              "the SIP domain (realm): a lower-case hostname or an IPv4 address, unique across Switchboard",
	"DomainCreate.name":        "the SIP domain (realm): a hostname or an IPv4 address, unique across Switchboard; stored lower-case",
	"Gateway.name":             "lower-case letters, digits, _ and - (an observed gateway's may have dots too), unique across Switchboard: the gateway's id on every switch",
	"GatewayCreate.name":       "lower-case letters, digits, _ and - (an observed gateway's may have dots too), unique across Switchboard: the gateway's id on every switch",
	"login":                    "API login, unique across Switchboard: letters, digits and . _ @ + -",
	"role":                     "what the user may do: admin (everything), tenant-admin (its tenant's subtree), user (its tenant, read-only)",
	"username":                 "SIP username, unique within its domain: letters, digits and . _ + -",
	"Gateway.username":         "username for outbound registration; empty for none",
	"GatewayCreate.username":   "username for outbound registration; empty for none",
	"GatewayPatch.username":    "username for outbound registration; empty for none",
	"host":                     "hostname, IPv4 or IPv6 address of the gateway",
	"GatewayCreate.host":       "hostname, IPv4 or IPv6 address of the gateway; required unless managed is false (then optional: given, Switchboard probes it with OPTIONS)",
	"GatewayPatch.host":        "hostname, IPv4 or IPv6 address of the gateway; may be empty only when managed is false",
	"applied": "how far the object reached each switch that serves it: one item per switch (none for an observed gateway, which is never pushed, " +
		"and none when no switch is configured). Asterisk: the PJSIP objects pushed over ARI; FreeSWITCH: a gateway is applied when sofia has it after the rescan, " +
		"an account is on_demand (FreeSWITCH asks for it through xml_curl when a phone registers)",
	"SwitchApplied.switch": "the switch's name (switches[].name)",
	"SwitchApplied.state": "applied; pending (a change on its way, or the switch not reached since Switchboard started); failed (refused: error has the switch's answer); " +
		"not_applied (part of a gateway failed, so none of it was left on the switch; FreeSWITCH: sofia has no gateway of that name); " +
		"conflict (the switch has an object of that name that is not Switchboard's, from pjsip.conf or another tool: left alone, reported once, not retried until it changes); on_demand",
	"SwitchApplied.error":            "why the state is not applied, in the switch's words; admin tokens only (it may name the switch's internal addresses), empty for others",
	"SwitchApplied.since":            "when the state last changed; null when unknown",
	"managed":                        "true (the default): Switchboard pushes the gateway to every switch; false: an observed gateway, a trunk the operator defined on the switch itself under this name (pjsip.conf endpoint, sofia gateway), which Switchboard never pushes, changes or deletes there, while it still reports its status and classifies calls through it; an observed gateway takes no username, secret or register",
	"caller_id_number":               "1 to 32 digits, * or #, optionally after a leading +",
	"description":                    "free text, at most 255 characters, no hidden characters (control, bidirectional or invisible formatting)",
	"contact":                        "the registered Contact URI",
	"address":                        "ip:port the REGISTER came from",
	"Registration.transport":         "the transport the phone registered over, as the switch reports it: usually udp, tcp, tls, ws or wss, but not a closed set (a phone may name another)",
	"switch":                         "the switch's name",
	"AccountCreated.domain":          "the SIP domain's name",
	"secret":                         "SIP digest secret: 4 to 80 printable ASCII characters without spaces, quotes or backslashes; write-only except in the answer to a create that generated it",
	"AccountCreated.secret":          "the SIP secret Switchboard generated because the request had none: shown only in this answer; absent when the caller supplied the secret (never echoed)",
	"AccountCreate.secret":           "SIP digest secret: 4 to 80 printable ASCII characters without spaces, quotes or backslashes; generated when absent and then returned once in the answer; a supplied secret is never returned",
	"has_secret":                     "whether a secret is set; the secret itself is never returned after creation",
	"password":                       "API login password, 6 to 128 characters; write-only",
	"user_id":                        "the user owning the account, or null",
	"account_id":                     "the SIP account the DID routes to, or null while unrouted",
	"DID.account_id":                 "the SIP account the DID routes to when its destination is an account; null otherwise",
	"DID.destination":                "where the DID routes: an account, extension, hunt group, condition, custom destination, external number, hangup or busy; null while unrouted",
	"number":                         "E.164 number: + then 7 to 15 digits",
	"DID.record":                     "record the answered calls that come in on this DID (needs the switch node's recordings_dir)",
	"Extension.record":               "record the answered calls to this extension and the calls its phones place (needs the switch node's recordings_dir)",
	"Extension.fax_detect":           "answer calls at once and listen for fax tones while the destination rings: a fax goes to fax box box_id; null: no detection",
	"FaxDetect.box_id":               "the fax box that receives detected faxes",
	"FaxDetect.seconds":              "how long the call listens for fax tones, 3 to 60; 0 or absent: 10",
	"RecordingPolicy.all":            "record every answered call of the tenant: calls to its DIDs and extensions and calls its phones place",
	"RecordingPolicy.retention_days": "days a recording is kept, 1 to 3650; 0: the daemon's default (recordings.retention_days, 90 unless configured)",
	"Recording.switch_ref":           "the recorded channel's id on its switch (Asterisk uniqueid, FreeSWITCH uuid): the call_id of that leg's CDR and the linked_id of the call's other legs",
	"Recording.duration_ms":          "how long the recording plays, in milliseconds",
	"Recording.bytes":                "the size of the WAV",
	"Recording.expires_at":           "when retention deletes it",
	"qualify_seconds":                "SIP OPTIONS interval in seconds, 0 to 3600; 0 = never",
	"port":                           "SIP port, 1 to 65535",
	"GatewayCreate.port":             "SIP port, 1 to 65535; absent or null for the default, 5060 (5061 for tls); 0 is refused",
	"GatewayPatch.port":              "SIP port, 1 to 65535; null sets the default, 5060 (5061 for tls); 0 is refused",
	"register":                       "register to the gateway with username and secret",
	"rtt_ms":                         "last qualify round trip in milliseconds; 0 when unknown",
	"GatewayStatus.state":            "up when any switch has the gateway up, down when some switch reports it and none has it up, unknown when no switch reports it",
	"GatewayStatus.switches":         "the gateway's status on each switch that reports it",
	"expires":                        "when the registration expires; zero time when the switch does not say",
	"Probe.kind":                     "gateway, switch (a switch's SIP listener) and contact (a registered phone) are qualified with OPTIONS; register_check is a synthetic REGISTER of a probe account",
	"Probe.name":                     "the gateway's or switch's name; for a contact, user@domain and the contact URI",
	"Probe.uri":                      "the request URI probed; for a register check, the registrar",
	"Probe.address":                  "the ip:port probed instead of resolving uri (a contact's NAT-mapped address); empty when none",
	"Probe.transport":                "udp, tcp or tls; empty when taken from the URI",
	"Probe.domain":                   "a contact's SIP domain, a register check's account domain; empty otherwise",
	"Probe.tenant_id":                "a gateway's tenant; null for a shared gateway and for the other kinds",
	"Probe.status":                   "OPTIONS probes: reachable, lagged (answered slower than sip.lag_threshold), unreachable (sip.misses probes in a row unanswered) or unknown (not probed yet); register checks: ok, failed or unknown (not run yet)",
	"Probe.code":                     "the last SIP response code; 0 after a timeout or a transport error",
	"Probe.reason":                   "the last reason phrase, or the error",
	"Probe.rtt_ms":                   "round trip of the last answered OPTIONS in milliseconds, 0 before one; null for register checks",
	"Probe.misses":                   "consecutive unanswered OPTIONS; null for register checks",
	"Probe.ok":                       "whether the last register check succeeded; null for OPTIONS probes",
	"Probe.duration_ms":              "time from the first REGISTER to its 200 OK (or to failure) in milliseconds; null for OPTIONS probes",
	"Probe.failures":                 "consecutive failed register checks; null for OPTIONS probes",
	"Probe.last_probe":               "when the last probe or check ended; null before the first",
	"Probe.last_change":              "when status last changed; null when it has not, and for register checks",
	"ProbeList.items":                "one page of results, sorted by kind then name",
	"ProbeList.next_cursor":          "pass as ?cursor= for the next page; empty on the last page",
	"ProbeList.probing":              "whether SIP probing is enabled (sip.enabled); when false the list is always empty",
}

// readOnlyFields are set by Switchboard in every answer.
var readOnlyFields = map[string]bool{"id": true, "created_at": true, "updated_at": true}

// schemaGen renders Go types as OpenAPI schemas.
type schemaGen struct {
	components obj
}

// component renders t as components.schemas[name] and returns a $ref to
// it. request marks a request body schema (secrets are write-only there).
func (g *schemaGen) component(name string, t reflect.Type, required []string, request bool) obj {
	if _, ok := g.components[name]; !ok {
		g.components[name] = obj{} // reserve: recursion guard
		g.components[name] = g.object(name, t, required, request)
	}
	return ref("schemas", name)
}

func ref(kind, name string) obj { return obj{"$ref": "#/components/" + kind + "/" + name} }

func (g *schemaGen) object(name string, t reflect.Type, required []string, request bool) obj {
	props := obj{}
	for _, f := range reflect.VisibleFields(t) {
		field, ok := jsonName(f)
		if !ok || len(f.Index) > 1 && shadowed(t, f) || f.Tag.Get("openapi") == "-" {
			continue
		}
		// A raw JSON value's schema has no type, so it admits null (and
		// nullable, which needs a type, must not be set): null is the
		// same as absent.
		s := g.schema(f.Type)
		if d, ok := fieldDocs[name+"."+field]; ok {
			s["description"] = d
		} else if d, ok := fieldDocs[field]; ok {
			s["description"] = d
		}
		if request && (field == "password" || field == "secret") {
			s["writeOnly"] = true
		}
		if !request && readOnlyFields[field] {
			s["readOnly"] = true
		}
		props[field] = s
	}
	o := obj{"type": "object", "properties": props}
	if request {
		o["additionalProperties"] = false
		if len(required) > 0 {
			o["required"] = required
		}
	} else {
		// Every field of an answer is always present (gateway and
		// account create answers omit nothing but an unset secret).
		var all []string
		for _, f := range reflect.VisibleFields(t) {
			if n, ok := jsonName(f); ok && !strings.Contains(string(f.Tag), "omitempty") && !(len(f.Index) > 1 && shadowed(t, f)) {
				all = append(all, n)
			}
		}
		o["required"] = all
	}
	return o
}

// shadowed reports whether promoted field f is hidden by a field of the
// same JSON name at a shallower depth (encoding/json's rule).
func shadowed(t reflect.Type, f reflect.StructField) bool {
	name, _ := jsonName(f)
	for _, o := range reflect.VisibleFields(t) {
		if n, ok := jsonName(o); ok && n == name && len(o.Index) < len(f.Index) {
			return true
		}
	}
	return false
}

func (g *schemaGen) schema(t reflect.Type) obj {
	nullable := false
	for t.Kind() == reflect.Pointer {
		t, nullable = t.Elem(), true
	}
	var s obj
	switch {
	case t == reflect.TypeFor[time.Time]():
		s = obj{"type": "string", "format": "date-time"}
	case t == rawMessageType:
		s = obj{} // any JSON value
	case t == amountType:
		s = obj{"type": "string", "format": "decimal", "pattern": amountPattern}
	case t.Kind() == reflect.String || t.Implements(reflect.TypeFor[encoding.TextMarshaler]()):
		// Another TextMarshaler is a JSON string too.
		s = obj{"type": "string"}
		if e, ok := enums[t]; ok {
			s["enum"] = e
		}
	case t.Kind() == reflect.Bool:
		s = obj{"type": "boolean"}
	case t.Kind() == reflect.Int64:
		s = obj{"type": "integer", "format": "int64"}
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		s = obj{"type": "integer"}
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		s = obj{"type": "number"}
	case t.Kind() == reflect.Slice:
		s = obj{"type": "array", "items": g.schema(t.Elem())}
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String:
		s = obj{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case t.Kind() == reflect.Struct:
		name := t.Name()
		if name == "" {
			panic("native: anonymous struct in an API type")
		}
		g.component(schemaName(t), t, nil, false)
		if nullable { // OpenAPI 3.0: a $ref takes no siblings
			return obj{"type": "object", "allOf": []any{ref("schemas", schemaName(t))}, "nullable": true}
		}
		return ref("schemas", schemaName(t))
	default:
		panic(fmt.Sprintf("native: no OpenAPI schema for %s", t))
	}
	if nullable {
		s["nullable"] = true
	}
	return s
}

// schemaName names nested struct types (gatewaySwitchStatus →
// GatewaySwitchStatus).
func schemaName(t reflect.Type) string {
	n := t.Name()
	return strings.ToUpper(n[:1]) + n[1:]
}

var pathParamRe = regexp.MustCompile(`\{([a-z_]+)\}`)

// errorResponses names the components.responses of each error status.
var errorResponses = map[int]string{
	http.StatusBadRequest:            "BadRequest",
	http.StatusUnauthorized:          "Unauthorized",
	http.StatusForbidden:             "Forbidden",
	http.StatusNotFound:              "NotFound",
	http.StatusConflict:              "Conflict",
	http.StatusRequestEntityTooLarge: "BodyTooLarge",
	http.StatusUnsupportedMediaType:  "UnsupportedMediaType",
	http.StatusUnprocessableEntity:   "InvalidReference",
	http.StatusInternalServerError:   "InternalError",
	http.StatusServiceUnavailable:    "Unavailable",
}

var errorDescriptions = map[int]string{
	http.StatusBadRequest: "The request is malformed or a field is invalid (codes invalid, malformed_body, unknown_field, bad_parameter); field names the culprit when there is one. " +
		"Bodies are decoded strictly, at every depth: a key given twice (malformed_body), a key that differs from a documented field only in case or is not one (unknown_field), " +
		"null for a field that is not nullable (invalid), invalid UTF-8 or a lone UTF-16 surrogate (malformed_body) are refused. " +
		"Text fields refuse control, bidirectional and invisible formatting characters (invalid). " +
		"Query parameters must be declared, given at most once, correctly percent-encoded, valid UTF-8, and free of the same hidden characters (bad_parameter).",
	http.StatusUnauthorized:          "The bearer token is missing, unknown or revoked.",
	http.StatusForbidden:             "The token's role may not perform this operation.",
	http.StatusNotFound:              "No such object in the caller's scope. Objects of other tenants are indistinguishable from missing ones.",
	http.StatusConflict:              "A unique field is taken (field names it), or the object still has dependants.",
	http.StatusRequestEntityTooLarge: "The body is larger than the configured limit (1 MiB by default).",
	http.StatusUnsupportedMediaType:  "The body is not application/json (UTF-8).",
	http.StatusUnprocessableEntity:   "A field (named in field) refers to an object that does not exist in the caller's scope.",
	http.StatusInternalServerError:   "An unexpected failure; details are logged, never returned.",
	http.StatusServiceUnavailable:    "The component the operation needs is not configured, or could not take the request now (then with Retry-After): try again later.",
}

// errorStatuses returns the error statuses rt may answer with.
func errorStatuses(rt *route) []int {
	if rt.errs != nil {
		return rt.errs
	}
	out := []int{http.StatusBadRequest}
	if !rt.public {
		out = append(out, http.StatusUnauthorized)
	}
	write := rt.method != http.MethodGet
	if write {
		out = append(out, http.StatusForbidden)
	}
	if strings.Contains(rt.path, "{id}") {
		out = append(out, http.StatusNotFound)
	}
	if write {
		out = append(out, http.StatusConflict)
	}
	if rt.body != nil || rt.upload || rt.csvBody != "" {
		out = append(out, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity)
	}
	return append(out, http.StatusInternalServerError)
}

// listOf renders the list envelope of name's items and returns its $ref.
func (g *schemaGen) listOf(name string, t reflect.Type) obj {
	item := g.component(name, t, nil, false)
	listName := name + "List"
	g.components[listName] = obj{
		"type":     "object",
		"required": []string{"items", "next_cursor"},
		"properties": obj{
			"items":       obj{"type": "array", "items": item},
			"next_cursor": obj{"type": "string", "description": "pass as ?cursor= for the next page; empty on the last page"},
		},
	}
	return ref("schemas", listName)
}

// openAPI renders the route table as an OpenAPI 3.0 document.
func (s *server) openAPI() obj {
	g := &schemaGen{components: obj{}}
	paths := obj{}
	tags := []string{}
	for _, rt := range s.routes {
		op := obj{
			"operationId": rt.op,
			"summary":     rt.summary,
			"tags":        []string{rt.tag},
		}
		if !containsString(tags, rt.tag) {
			if tagDocs[rt.tag] == "" {
				panic(fmt.Sprintf("native: tag %q of %s has no description in tagDocs", rt.tag, rt.op))
			}
			tags = append(tags, rt.tag)
		}
		if rt.doc != "" {
			op["description"] = rt.doc
		}
		if rt.public {
			op["security"] = []any{}
		}
		var params []any
		for _, m := range pathParamRe.FindAllStringSubmatch(rt.path, -1) {
			params = append(params, ref("parameters", m[1]))
		}
		for _, p := range rt.query {
			params = append(params, queryParam(p))
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if rt.body != nil {
			schema := g.component(rt.body.name, rt.body.typ, rt.body.required, true)
			if rt.body.many > 0 {
				schema = obj{"oneOf": []any{schema, obj{"type": "array", "items": schema, "maxItems": rt.body.many}}}
			}
			op["requestBody"] = obj{
				"required": true,
				"content":  obj{"application/json": obj{"schema": schema}},
			}
		}
		if rt.upload {
			binary := obj{"schema": obj{"type": "string", "format": "binary"}}
			content := obj{"multipart/form-data": obj{"schema": obj{
				"type":     "object",
				"required": []string{"file"},
				"properties": obj{
					"file":      obj{"type": "string", "format": "binary", "description": "the audio file"},
					"name":      obj{"type": "string", "description": "instead of the name parameter"},
					"tenant_id": obj{"type": "integer", "format": "int64", "description": "instead of the tenant_id parameter"},
				},
			}}}
			for _, m := range uploadMedia {
				content[m] = binary
			}
			op["requestBody"] = obj{"required": true, "content": content}
		}
		if rt.csvBody != "" {
			op["requestBody"] = obj{"required": true, "description": rt.csvBody,
				"content": obj{"text/csv": obj{"schema": obj{"type": "string"}}}}
		}
		responses := obj{}
		success := obj{"description": http.StatusText(rt.resp.status)}
		switch {
		case rt.resp.media != "":
			success["content"] = obj{rt.resp.media: obj{"schema": obj{"type": "string", "description": rt.resp.mediaDoc}}}
			if rt.resp.list { // and a JSON page on request (format=json)
				success["content"].(obj)["application/json"] = obj{"schema": g.listOf(rt.resp.name, rt.resp.typ)}
			}
		case rt.resp.raw:
			success["content"] = obj{"application/json": obj{"schema": obj{"type": "object"}}}
		case rt.resp.list:
			success["content"] = obj{"application/json": obj{"schema": g.listOf(rt.resp.name, rt.resp.typ)}}
		case rt.resp.typ != nil:
			success["content"] = obj{"application/json": obj{"schema": g.component(rt.resp.name, rt.resp.typ, nil, false)}}
		}
		if rt.resp.status == http.StatusCreated {
			success["headers"] = obj{"Location": obj{"description": "the URL of the new object", "schema": obj{"type": "string"}}}
		}
		if len(rt.resp.headers) > 0 {
			hs := obj{}
			for name, doc := range rt.resp.headers {
				hs[name] = obj{"description": doc, "schema": obj{"type": "string"}}
			}
			success["headers"] = hs
		}
		responses[fmt.Sprint(rt.resp.status)] = success
		for _, st := range errorStatuses(rt) {
			responses[fmt.Sprint(st)] = ref("responses", errorResponses[st])
		}
		op["responses"] = responses

		item, _ := paths[rt.path].(obj)
		if item == nil {
			item = obj{}
			paths[rt.path] = item
		}
		item[strings.ToLower(rt.method)] = op
	}

	g.components["Error"] = obj{
		"type":     "object",
		"required": []string{"error"},
		"properties": obj{"error": obj{
			"type":     "object",
			"required": []string{"status", "code", "message"},
			"properties": obj{
				"status":  obj{"type": "integer", "description": "the HTTP status, repeated"},
				"code":    obj{"type": "string", "enum": errorCodes},
				"field":   obj{"type": "string", "description": "the body field (a path such as [2].raw.a when nested), path or query parameter at fault, when there is one"},
				"message": obj{"type": "string", "description": "for humans; may change between versions"},
			},
		}},
	}
	errResponses := obj{}
	for st, name := range errorResponses {
		r := obj{
			"description": errorDescriptions[st],
			"content":     obj{"application/json": obj{"schema": ref("schemas", "Error")}},
		}
		if st == http.StatusUnauthorized {
			r["headers"] = obj{"WWW-Authenticate": obj{"description": `Bearer realm="switchboard"`, "schema": obj{"type": "string"}}}
		}
		if st == http.StatusServiceUnavailable {
			r["headers"] = obj{"Retry-After": obj{"description": "seconds to wait before retrying, when the failure is transient", "schema": obj{"type": "integer"}}}
		}
		errResponses[name] = r
	}
	tagList := make([]any, len(tags))
	for i, t := range tags {
		tagList[i] = obj{"name": t, "description": tagDocs[t]}
	}
	return obj{
		"openapi": OpenAPIVersion,
		"info": obj{
			"title":       "Switchboard native API",
			"version":     "1",
			"description": "Provisioning (tenants, SIP domains, users, SIP accounts, gateways, DIDs), live state (registrations, gateway status) and call detail records (query, CSV export, live feed, submission). Authenticate with Authorization: Bearer <token>. Lists page by keyset: pass next_cursor back as cursor.",
		},
		"servers":  servers,
		"tags":     tagList,
		"security": []any{obj{"bearerAuth": []string{}}},
		"paths":    paths,
		"components": obj{
			"schemas":   g.components,
			"responses": errResponses,
			"parameters": obj{
				"id": obj{"name": "id", "in": "path", "required": true, "description": "the object's id",
					"schema": obj{"type": "integer", "format": "int64", "minimum": 1}},
			},
			"securitySchemes": obj{
				"bearerAuth": obj{"type": "http", "scheme": "bearer", "description": "an API token (sbt_…) made with `switchboard token create`"},
			},
		},
	}
}

func queryParam(p param) obj {
	var s obj
	switch p.typ {
	case "id":
		s = obj{"type": "integer", "format": "int64", "minimum": 1}
	case "limit":
		s = obj{"type": "integer", "minimum": 1, "maximum": provisioning.MaxLimit, "default": provisioning.DefaultLimit}
	case "cdr-limit":
		s = obj{"type": "integer", "minimum": 1, "maximum": cdr.MaxLimit, "default": cdr.DefaultLimit}
	case "date-time":
		s = obj{"type": "string", "format": "date-time"}
	case "count":
		s = obj{"type": "integer", "minimum": 0}
	case "bool":
		s = obj{"type": "boolean", "default": false}
	default:
		s = obj{"type": "string"}
	}
	if len(p.enum) > 0 {
		s["enum"] = p.enum
	}
	return obj{"name": p.name, "in": "query", "required": false, "description": p.doc, "schema": s}
}

func containsString(ss []string, s string) bool {
	for _, v := range ss {
		if v == s {
			return true
		}
	}
	return false
}
