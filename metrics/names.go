package metrics

import (
	"slices"
	"strings"
)

// Type is a metric family's Prometheus type.
type Type string

// The metric types Switchboard exports.
const (
	Counter   Type = "counter"
	Gauge     Type = "gauge"
	Histogram Type = "histogram"
	Summary   Type = "summary"
)

// Metric documents one metric family: what the dashboard, the alert rules
// and metrics/README.md rely on. Labels are every label the family has
// (besides the job and instance Prometheus adds); a histogram's le is
// implied.
type Metric struct {
	Name     string
	Type     Type
	Labels   []string
	Exporter string // who exports it: the README's grouping
	Help     string
}

// The exporters, in the order the README lists them.
const (
	ExporterPresence   = "presence view (switch/presence)"
	ExporterSIP        = "SIP prober (sip)"
	ExporterCDR        = "CDR pipeline (cdr)"
	ExporterFreeSWITCH = "FreeSWITCH adapter (switch/freeswitch)"
	ExporterAsterisk   = "Asterisk config pusher (switch/asterisk)"
	ExporterCalls      = "call statistics from stored CDRs"
	ExporterAPI        = "HTTP API"
	ExporterStore      = "store (internal/sqldb)"
	ExporterBilling    = "billing jobs (cmd/switchboard billing.go)"
	ExporterAuthz      = "call authorization (provisioning/authz)"
	ExporterRuntime    = "Go runtime and process (client_golang collectors)"
)

// Known is every metric family that the dashboard and the alert rules may
// use, and the documentation source of metrics/README.md's table (a test
// keeps the two in step). Adding a metric to the daemon means adding it
// here; the tests fail on a dashboard or rule that names anything else.
var Known = []Metric{
	// Presence: read from the live view at scrape time.
	{"switchboard_switch_up", Gauge, []string{"switch"}, ExporterPresence,
		"1 while Switchboard is connected to the switch, 0 while not. The last known state is still served while disconnected."},
	{"switchboard_switch_reconnects_total", Counter, []string{"switch"}, ExporterPresence,
		"Connections to the switch that were lost. Catches a switch that flaps faster than the scrape interval."},
	{"switchboard_registrations", Gauge, []string{"switch", "domain", "transport"}, ExporterPresence,
		"Live registered contacts. The largest 200 domains (configurable) have their own series, the rest are summed into domain=\"_other\"; transport is udp, tcp, tls, ws, wss, other or unknown."},
	{"switchboard_gateway_up", Gauge, []string{"switch", "gateway"}, ExporterPresence,
		"Gateways only: 1 up, 0 down, as the switch reports it; switch=\"sip\" is Switchboard's own SIP OPTIONS probe of the gateway. A switch's own SIP listener is never a gateway here (switchboard_sip_probe_up{kind=\"switch\"}). No series while the state is unknown."},
	{"switchboard_gateway_rtt_seconds", Gauge, []string{"switch", "gateway"}, ExporterPresence,
		"Last qualify/ping round trip to the gateway; only while it is up and the round trip is known."},
	{"switchboard_active_calls", Gauge, []string{"switch", "direction", "gateway"}, ExporterPresence,
		"Live calls (legs of one call count once); direction inbound, outbound, internal, other or unknown; gateway \"none\" for on-net calls. Only non-zero series."},

	// SIP prober.
	{"switchboard_sip_probe_up", Gauge, []string{"kind", "target"}, ExporterSIP,
		"Switch SIP listeners only (kind switch): 1 while the listener answers OPTIONS (reachable or lagged), 0 once unreachable; alert SwitchboardSwitchSIPDown. Gateways are in switchboard_gateway_up{switch=\"sip\"}, not repeated here, and switches are not there."},
	{"switchboard_sip_probe_rtt_seconds", Gauge, []string{"kind", "target"}, ExporterSIP,
		"Switch SIP listeners only: round trip of the last answered OPTIONS (gateways: switchboard_gateway_rtt_seconds{switch=\"sip\"})."},
	{"switchboard_sip_contacts", Gauge, []string{"status"}, ExporterSIP,
		"Qualified phone contacts by status (reachable, lagged, unreachable, unknown): counted, never labelled per phone."},
	{"switchboard_sip_probe_status_changes_total", Counter, []string{"kind"}, ExporterSIP,
		"Status changes of probed targets, by kind (gateway, switch, contact)."},
	{"switchboard_sip_options_rtt_seconds", Histogram, []string{"kind"}, ExporterSIP,
		"Distribution of SIP OPTIONS round trips, by kind of target."},
	{"switchboard_sip_probes_total", Counter, []string{"kind", "result"}, ExporterSIP,
		"Probes sent, by kind of target and result."},
	{"switchboard_sip_register_check_success", Gauge, []string{"switch"}, ExporterSIP,
		"1 while the last test REGISTER against the switch succeeded."},
	{"switchboard_sip_register_check_duration_seconds", Gauge, []string{"switch"}, ExporterSIP,
		"Duration of the last test REGISTER against the switch."},
	{"switchboard_sip_register_check_failures_total", Counter, []string{"switch", "code"}, ExporterSIP,
		"Failed test REGISTERs, by SIP response code (or the failure's word when there was no response)."},

	// CDR pipeline.
	{"switchboard_cdr_queue_length", Gauge, nil, ExporterCDR,
		"CDRs and dead letters queued for the writer."},
	{"switchboard_cdr_spool_records", Gauge, nil, ExporterCDR,
		"Entries in the spool, waiting for the store (the store was unreachable)."},
	{"switchboard_cdr_spool_bytes", Gauge, nil, ExporterCDR,
		"Size of the spool on disk."},
	{"switchboard_cdr_database_up", Gauge, nil, ExporterCDR,
		"1 while the last write to the store succeeded, 0 while the store is failing."},
	{"switchboard_cdr_records_written_total", Counter, nil, ExporterCDR,
		"CDRs committed to the store (duplicates not counted)."},
	{"switchboard_cdr_duplicates_total", Counter, nil, ExporterCDR,
		"CDRs skipped because the store already had their (switch, call id)."},
	{"switchboard_cdr_dead_letters_total", Counter, nil, ExporterCDR,
		"Dead letters written: invalid, refused or damaged records."},
	{"switchboard_cdr_batches_total", Counter, []string{"target"}, ExporterCDR,
		"Batches written, by target: store (one transaction) or spool (one fsync)."},
	{"switchboard_cdr_hangup_to_queryable_seconds", Histogram, nil, ExporterCDR,
		"Time from a call's end to the commit that made its CDR queryable: the CDR lag."},
	{"switchboard_cdr_batch_write_seconds", Histogram, nil, ExporterCDR,
		"Time to write one batch of CDRs to the store, failed attempts included."},
	{"switchboard_cdr_unpriced_total", Counter, []string{"reason"}, ExporterCDR,
		"CDRs stored without a price, by reason: no_tenant (a billable leg without owner), no_plan (its owner has no tariff plan), no_rate (no rate for the number at the call's start), invalid_number, lookup_failed (the tariffs could not be looked up; `switchboard rerate` prices them later), did_other_tenant, no_direction, rating_error. Every reason is exported from the start. Free legs (internal, unanswered, inbound to a DID without plan) are priced at 0, not counted here."},
	{"switchboard_cdr_supplier_unpriced_total", Counter, []string{"reason"}, ExporterCDR,
		"Legs that went to a gateway stored without a supplier cost, by reason: no_plan (the gateway has no supplier plan), no_rate (no supplier rate for the number sent at the leg's start), invalid_number, lookup_failed (`switchboard rerate` prices them later), rating_error. Every reason is exported from the start. While it grows the margin (revenue − supplier cost) is overstated."},

	// Asterisk config pusher.
	{"switchboard_config_push_failures_total", Counter, []string{"switch", "kind"}, ExporterAsterisk,
		"Accounts and gateways whose push of PJSIP objects to the switch failed (each attempt counts once; a conflict with an object that is not Switchboard's is a state, not a failure)."},
	{"switchboard_config_push_states", Gauge, []string{"switch", "kind", "state"}, ExporterAsterisk,
		"Accounts and gateways on the switch by push state: applied, pending, failed, not_applied (part of a gateway failed, so none of it was left), conflict (an object of that name is not Switchboard's)."},

	// FreeSWITCH adapter.
	{"switchboard_freeswitch_json_cdr_malformed_total", Counter, []string{"switch", "outcome"}, ExporterFreeSWITCH,
		"mod_json_cdr POSTs that were not a CDR, by outcome: dead_letter (stored, 200), rate_limited (over the node's budget of 10 dead letters a minute: 429, nothing stored; FreeSWITCH retries, then keeps the record in its err-log-dir), not_stored (400 or 503)."},
	{"switchboard_freeswitch_lcr_lookups_total", Counter, []string{"switch", "outcome"}, ExporterFreeSWITCH,
		"Calls through a least-cost outbound route answered by a node's xml_curl dialplan, by outcome: cost (gateways ordered by their suppliers' rates), listed (the ordering failed or took over 1 s: listed order), unrated (no supplier rates the number: refused, 404). A rising listed is the store failing; unrated, a destination no supplier carries."},
	{"switchboard_freeswitch_json_cdr_err_log_files_total", Counter, []string{"switch", "outcome"}, ExporterFreeSWITCH,
		"Files of mod_json_cdr's err-log-dir (records FreeSWITCH gave up posting) read by Switchboard, by outcome: imported (stored, file removed), dead_letter (not a CDR, moved to rejected/)."},

	// Calls, counted from the CDRs as they are stored: one per call, from
	// its originating leg (cdr.originating), never one per leg.
	{"switchboard_calls_completed_total", Counter, []string{"switch", "direction", "disposition", "cause_class"}, ExporterCalls,
		"Calls ended, one per call however many legs it had (counted when the CDR of its originating leg, the one whose call_id is the linked_id, is stored), by disposition (ANSWERED, NO ANSWER, BUSY, FAILED, CONGESTION) and Q.850 cause class (normal, resource, service, implementation, invalid, protocol, interworking, unknown)."},
	{"switchboard_call_answered_seconds_total", Counter, []string{"switch", "direction"}, ExporterCalls,
		"Talk time of answered calls, once per call (the originating leg's billsec). ACD = this / answered calls."},
	{"switchboard_gateway_calls_total", Counter, []string{"gateway", "outcome"}, ExporterCalls,
		"Calls through the gateway, one per call, by outcome (answered, unanswered). ASR = answered / all. Inbound and outbound calls that name no provisioned gateway (a carrier calling a DID from an address no gateway matches) count as `gateway=\"_unknown\"`."},
	{"switchboard_gateway_answered_seconds_total", Counter, []string{"gateway"}, ExporterCalls,
		"Talk time of answered calls through the gateway. ACD = this / answered calls."},
	{"switchboard_cdr_revenue_total", Counter, []string{"currency"}, ExporterCalls,
		"Cost of the priced CDRs stored, in units of their currency (a float for graphs: the exact amounts are in the store's ledger), by the currency of their plan. Counted once per leg, when it is stored; a `switchboard rerate` adjusts the ledger, not this counter. Revenue rate: `sum by (currency) (rate(switchboard_cdr_revenue_total[5m]))`."},
	{"switchboard_cdr_supplier_cost_total", Counter, []string{"currency"}, ExporterCalls,
		"Supplier cost of the gateway legs stored (what the gateways' carriers charge by their supplier plans; never charged to a tenant nor invoiced), in units of their currency (a float for graphs: the exact amounts are the CDRs' supplier_cost), by the currency of the supplier plan. Counted once per leg that went to a gateway, when it is stored; a `switchboard rerate` updates the CDRs, not this counter. Cost rate: `sum by (currency) (rate(switchboard_cdr_supplier_cost_total[5m]))`; margin rate: `sum by (currency) (rate(switchboard_cdr_revenue_total[5m])) - sum by (currency) (rate(switchboard_cdr_supplier_cost_total[5m]))` (per currency: amounts in two currencies are never subtracted)."},

	// Billing: refreshed every minute from the settings and the balances.
	{"switchboard_billing_low_balances", Gauge, []string{"mode"}, ExporterBilling,
		"Tenants with limited spending (mode prepaid, or postpaid with a credit limit) that have nothing left to spend: balance + credit limit ≤ 0 in their billing currency, so that the authorizer refuses their calls. Postpaid tenants without a limit are never counted."},
	// Real-time call authorization.
	{"switchboard_authz_refused_total", Counter, []string{"reason"}, ExporterAuthz,
		"Calls refused by real-time authorization, by reason: not_whitelisted (destination in none of the tenant's or user's whitelists), no_rate (no rate for the destination), no_plan, insufficient_funds, concurrent_limit, calls_per_minute, cost_per_hour, cost_per_day, cost_per_month, error (a source failed: the switch applied its fail policy). Every reason is exported from 0."},
	{"switchboard_authz_reserved_calls", Gauge, nil, ExporterAuthz,
		"Calls holding an authorization reservation: authorized and not yet released (hangup, CDR) nor expired."},
	{"switchboard_authz_journal_failures_total", Counter, nil, ExporterAuthz,
		"Writes of the reservation journal (the live calls' reservations, written behind every 50 ms so that a restarted daemon still counts them) that failed, the database being down: retried with backoff while authorization goes on from memory; a restart meanwhile forgets the calls not written."},
	{"switchboard_authz_journal_pending", Gauge, nil, ExporterAuthz,
		"Reservation changes (new, released, ended calls) waiting to be written to the journal: near 0 normally, growing while the database is down."},

	// HTTP API.
	{"switchboard_http_requests_total", Counter, []string{"dialect", "route", "code", "class"}, ExporterAPI,
		"Requests served, by dialect (native, dcp, freeswitch, ops), route pattern, status code as sent and class by meaning: ok, client_error, server_error. A dialect's own codes count by what they mean (dcp's 501/502/503 \"not found\" are client errors), and a request whose client went away before the answer is code 499, a client error. Alert on class, never on code."},
	{"switchboard_http_request_duration_seconds", Histogram, []string{"dialect", "route"}, ExporterAPI,
		"Time to serve a request."},

	// Store.
	{"switchboard_store_query_duration_seconds", Histogram, []string{"store", "op"}, ExporterStore,
		"Time of one statement outside transactions, by engine (sqlite, postgres) and verb."},

	// Runtime: the ones the dashboard uses; the collectors export more
	// go_* and process_* series.
	{"go_goroutines", Gauge, nil, ExporterRuntime, "Goroutines that currently exist."},
	{"go_memstats_heap_inuse_bytes", Gauge, nil, ExporterRuntime, "Heap memory in use."},
	{"process_resident_memory_bytes", Gauge, nil, ExporterRuntime, "Resident memory size."},
	{"process_cpu_seconds_total", Counter, nil, ExporterRuntime, "CPU time used."},
	{"process_open_fds", Gauge, nil, ExporterRuntime, "Open file descriptors."},
}

// Lookup returns the family that the series name belongs to: a family's
// own name, or for a histogram its _bucket, _sum and _count series (for a
// summary _sum and _count).
func Lookup(name string) (Metric, bool) {
	for _, m := range Known {
		if m.Name == name {
			return m, true
		}
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if !ok {
			continue
		}
		i := slices.IndexFunc(Known, func(m Metric) bool { return m.Name == base })
		if i < 0 {
			continue
		}
		m := Known[i]
		if m.Type == Histogram || (m.Type == Summary && suffix != "_bucket") {
			return m, true
		}
	}
	return Metric{}, false
}
