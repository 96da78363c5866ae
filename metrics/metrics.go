package metrics

import (
	_ "embed"
	"slices"
)

// The files are embedded so that the daemon (or a release) can hand them
// out as they were tested: the same bytes the tests in this package check.
var (
	//go:embed dashboard.json
	dashboard []byte
	//go:embed alerts.yml
	alerts []byte
)

// Dashboard returns the Grafana dashboard (JSON, importable through
// Dashboards > Import, or provisioned from a file): its data source is the
// DS_PROMETHEUS variable.
func Dashboard() []byte { return slices.Clone(dashboard) }

// Alerts returns the Prometheus rule file: the alerting rules and the
// recording rules they use, to be listed under rule_files.
func Alerts() []byte { return slices.Clone(alerts) }
