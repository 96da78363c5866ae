// Package metrics documents Switchboard's Prometheus metrics and ships the
// Grafana dashboard and the alert rules that read them, for NOC teams.
//
// The collectors live with what they measure (switch/presence, cdr, sip,
// the API, the store); this package holds what spans them: Known, the one
// list of metric families (the source of README.md's table), and the
// embedded dashboard.json and alerts.yml. Its tests keep the three in step:
// every metric name a dashboard query or a rule uses must be in Known, the
// rules must pass `promtool check rules` and their unit tests in
// alerts_test.yml (`promtool test rules`), and the dashboard must have what
// a Grafana import needs.
//
// Cardinality is bounded by configuration (switches, domains up to a cap,
// gateways), never by traffic: no label carries a phone, a user or a call.
package metrics
