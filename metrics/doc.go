// Package metrics exports Switchboard's Prometheus collectors for NOC teams,
// with the Grafana dashboard and alert rules that read them. Collectors read
// the presence view and the CDR pipeline; label values are bounded by
// configuration (switch, domain, gateway), never by traffic.
//
// The daemon already serves /metrics with the Go runtime and process
// collectors; the Switchboard collectors, dashboard and rules arrive with the
// metrics issue.
package metrics
