package metrics

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"gopkg.in/yaml.v3"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/cdr/cdrstore"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/api"
	"github.com/switchboard-voip/switchboard/provisioning/authz"
	"github.com/switchboard-voip/switchboard/switch/asterisk"
	"github.com/switchboard-voip/switchboard/switch/freeswitch"
	"github.com/switchboard-voip/switchboard/switch/presence"
)

var update = flag.Bool("update", false, "rewrite the metrics table of README.md from Known")

// TestRules runs promtool over the rule file and its unit tests, as CI
// does. Without promtool the test is skipped on a workstation and fails
// under CI, where it must be installed (Debian package prometheus).
func TestRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool is not installed (Debian: apt-get install prometheus); CI must run the rule tests")
		}
		t.Skip("promtool is not installed (Debian: apt-get install prometheus); CI runs this test")
	}
	for _, args := range [][]string{
		{"check", "rules", "alerts.yml"},
		{"test", "rules", "alerts_test.yml"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		out, err := exec.CommandContext(ctx, promtool, args...).CombinedOutput()
		cancel()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// ruleFile is the part of a Prometheus rule file the tests look at.
type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Record      string            `yaml:"record"`
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func loadRules(t *testing.T) ruleFile {
	t.Helper()
	var rf ruleFile
	if err := yaml.Unmarshal(Alerts(), &rf); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	return rf
}

// TestAlertRulesActionable checks what promtool does not: every alert has
// a "for", a severity a router can use, a summary and a description, and
// unit tests in alerts_test.yml; every alert the issue asks for exists.
func TestAlertRulesActionable(t *testing.T) {
	rf := loadRules(t)
	tests, err := os.ReadFile("alerts_test.yml")
	if err != nil {
		t.Fatal(err)
	}
	var alerts []string
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			alerts = append(alerts, r.Alert)
			if d, err := time.ParseDuration(r.For); err != nil || d <= 0 {
				t.Errorf("%s: for %q: want a positive duration", r.Alert, r.For)
			}
			if s := r.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("%s: severity %q: want critical or warning", r.Alert, s)
			}
			for _, a := range []string{"summary", "description"} {
				if len(strings.TrimSpace(r.Annotations[a])) < 20 {
					t.Errorf("%s: annotation %s missing or too short to act on", r.Alert, a)
				}
			}
			if !bytes.Contains(tests, []byte("alertname: "+r.Alert+"\n")) {
				t.Errorf("%s: no test in alerts_test.yml", r.Alert)
			}
		}
	}
	for _, want := range []string{
		"SwitchboardSwitchDisconnected", "SwitchboardGatewayDown", "SwitchboardRegistrationsDropped",
		"SwitchboardGatewayASRCollapse", "SwitchboardCDRLagHigh", "SwitchboardCDRSpoolGrowing", "SwitchboardAPIErrors",
	} {
		if !slices.Contains(alerts, want) {
			t.Errorf("alert %s missing", want)
		}
	}
}

// knownLabels is every label a grouping may name: the labels of every
// known family, le, and what Prometheus adds to every series.
func knownLabels() map[string]bool {
	out := map[string]bool{"le": true, "job": true, "instance": true}
	for _, m := range Known {
		for _, l := range m.Labels {
			out[l] = true
		}
	}
	return out
}

// checkExpr reports what expr uses that Known (or, for rules, the rule
// file's own recording rules) does not have.
func checkExpr(expr string, recorded map[string]bool) []string {
	var problems []string
	refs := scanPromQL(expr)
	for _, name := range refs.metrics {
		if _, ok := Lookup(name); !ok && !recorded[name] {
			problems = append(problems, fmt.Sprintf("unknown metric %s", name))
		}
	}
	all := knownLabels()
	for _, l := range refs.labels {
		m, ok := Lookup(l.metric)
		if !ok { // a grouping list, or a recorded series: any known label
			if !all[l.label] {
				problems = append(problems, fmt.Sprintf("unknown label %s", l.label))
			}
			continue
		}
		own := slices.Contains(m.Labels, l.label) || l.label == "job" || l.label == "instance" ||
			l.label == "le" && strings.HasSuffix(l.metric, "_bucket")
		if !own {
			problems = append(problems, fmt.Sprintf("%s has no label %s", l.metric, l.label))
		}
	}
	return problems
}

func TestScanPromQL(t *testing.T) {
	tests := []struct {
		expr    string
		metrics []string
		labels  []string // metric/label, "/label" in a grouping list
		vars    []string
	}{
		{`up`, []string{"up"}, nil, nil},
		{`sum by (switch) (switchboard_registrations{switch=~"$switch", domain!="_other"})`,
			[]string{"switchboard_registrations"},
			[]string{"/switch", "switchboard_registrations/switch", "switchboard_registrations/domain"}, []string{"switch"}},
		{`histogram_quantile(0.95, sum without (x) (rate(a_bucket{le="+Inf"}[$__rate_interval]))) > 30`,
			[]string{"a_bucket"}, []string{"/x", "a_bucket/le"}, []string{"__rate_interval"}},
		{`a / on(gateway) group_left(kind) b offset 5m and c {code=~"5..", x="}"} or vector(0)`,
			[]string{"a", "b", "c"}, []string{"/gateway", "/kind", "c/code", "c/x"}, nil},
		{`sum(rate(x[5m])) by (le) * 1e3 > scalar(y:z:ratio)`,
			[]string{"x", "y:z:ratio"}, []string{"/le"}, nil},
		{`label_replace(m, "dst", "$1", "src", "(.*)") unless ${window}`,
			[]string{"m"}, nil, []string{"1", "window"}},
	}
	for _, tt := range tests {
		got := scanPromQL(tt.expr)
		var labels []string
		for _, l := range got.labels {
			labels = append(labels, l.metric+"/"+l.label)
		}
		if !slices.Equal(got.metrics, tt.metrics) || !slices.Equal(labels, tt.labels) || !slices.Equal(got.vars, tt.vars) {
			t.Errorf("scanPromQL(%s) = %v %v %v, want %v %v %v", tt.expr, got.metrics, labels, got.vars, tt.metrics, tt.labels, tt.vars)
		}
	}
}

func TestCheckExpr(t *testing.T) {
	tests := []struct {
		expr string
		want []string
	}{
		{`sum by (switch) (switchboard_registrations{transport="udp"})`, nil},
		{`switchboard_cdr_batch_write_seconds_bucket{le="1"}`, nil},
		{`switchboard_registration`, []string{"unknown metric switchboard_registration"}},
		{`switchboard_switch_up{gateway="x"}`, []string{"switchboard_switch_up has no label gateway"}},
		{`sum by (gw) (switchboard_gateway_up)`, []string{"unknown label gw"}},
		{`switchboard_gateway_up_bucket`, []string{"unknown metric switchboard_gateway_up_bucket"}}, // a gauge has no buckets
		{`x:recorded{switch="a"}`, nil},
	}
	for _, tt := range tests {
		if got := checkExpr(tt.expr, map[string]bool{"x:recorded": true}); !slices.Equal(got, tt.want) {
			t.Errorf("checkExpr(%s) = %v, want %v", tt.expr, got, tt.want)
		}
	}
}

// TestRulesUseKnownMetrics: every metric and label a rule reads exists.
func TestRulesUseKnownMetrics(t *testing.T) {
	rf := loadRules(t)
	recorded := map[string]bool{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				recorded[r.Record] = true
			}
		}
	}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			for _, p := range checkExpr(r.Expr, recorded) {
				t.Errorf("%s%s: %s", r.Alert, r.Record, p)
			}
		}
	}

	// The unit tests must feed the series the rules read, not look-alikes.
	raw, err := os.ReadFile("alerts_test.yml")
	if err != nil {
		t.Fatal(err)
	}
	var tf struct {
		Tests []struct {
			Name        string `yaml:"name"`
			InputSeries []struct {
				Series string `yaml:"series"`
			} `yaml:"input_series"`
		} `yaml:"tests"`
	}
	if err := yaml.Unmarshal(raw, &tf); err != nil {
		t.Fatalf("alerts_test.yml: %v", err)
	}
	for _, tc := range tf.Tests {
		for _, in := range tc.InputSeries {
			for _, p := range checkExpr(in.Series, nil) {
				t.Errorf("alerts_test.yml %q: %s: %s", tc.Name, in.Series, p)
			}
		}
	}
}

// dashboardPanel is the part of a Grafana panel the tests look at.
type dashboardPanel struct {
	ID         int             `json:"id"`
	Type       string          `json:"type"`
	Title      string          `json:"title"`
	Datasource json.RawMessage `json:"datasource"`
	GridPos    *struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		RefID      string          `json:"refId"`
		Expr       string          `json:"expr"`
		Datasource json.RawMessage `json:"datasource"`
	} `json:"targets"`
	Panels []dashboardPanel `json:"panels"` // a row's, when collapsed
}

type dashboardJSON struct {
	UID           string `json:"uid"`
	Title         string `json:"title"`
	SchemaVersion int    `json:"schemaVersion"`
	Inputs        []struct {
		Name, Type, PluginID string
	} `json:"__inputs"`
	Templating struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Datasource json.RawMessage `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
	Panels []dashboardPanel `json:"panels"`
}

const dsVar = "${DS_PROMETHEUS}"

// usesDSVar reports whether a datasource reference points at the
// DS_PROMETHEUS variable, in the object form of current Grafana or the
// plain string form of older exports.
func usesDSVar(raw json.RawMessage) bool {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s == dsVar
	}
	var ref struct{ Type, UID string }
	return json.Unmarshal(raw, &ref) == nil && ref.UID == dsVar && ref.Type == "prometheus"
}

func loadDashboard(t *testing.T) dashboardJSON {
	t.Helper()
	var d dashboardJSON
	dec := json.NewDecoder(bytes.NewReader(Dashboard()))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("dashboard.json: %v", err)
	}
	return d
}

// TestDashboard checks what a Grafana import needs: a title and uid, the
// DS_PROMETHEUS input and variable, and panels that each have a type, a
// title, a place on the grid that overlaps no other, the variable as data
// source and queries with expressions.
func TestDashboard(t *testing.T) {
	d := loadDashboard(t)
	if d.Title == "" || d.UID == "" || d.SchemaVersion < 36 {
		t.Errorf("title %q, uid %q, schemaVersion %d: want both set and schema >= 36", d.Title, d.UID, d.SchemaVersion)
	}
	if !slices.ContainsFunc(d.Inputs, func(in struct{ Name, Type, PluginID string }) bool {
		return in.Name == "DS_PROMETHEUS" && in.Type == "datasource" && in.PluginID == "prometheus"
	}) {
		t.Error("__inputs: no DS_PROMETHEUS datasource input for prometheus")
	}
	vars := map[string]bool{"__rate_interval": true, "__interval": true, "__range": true}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
		switch {
		case v.Name == "DS_PROMETHEUS":
			var q string
			if v.Type != "datasource" || json.Unmarshal(v.Query, &q) != nil || q != "prometheus" {
				t.Errorf("variable DS_PROMETHEUS: type %q query %s, want a prometheus datasource variable", v.Type, v.Query)
			}
		case v.Type == "query":
			if !usesDSVar(v.Datasource) {
				t.Errorf("variable %s: datasource %s, want %s", v.Name, v.Datasource, dsVar)
			}
		}
	}
	if !vars["DS_PROMETHEUS"] {
		t.Error("templating: no DS_PROMETHEUS variable")
	}

	type rect struct{ x, y, w, h int }
	var placed []rect
	ids := map[int]bool{}
	var walk func(ps []dashboardPanel)
	n := 0
	walk = func(ps []dashboardPanel) {
		for _, p := range ps {
			name := fmt.Sprintf("panel %d %q", p.ID, p.Title)
			if p.Type == "" || p.Title == "" {
				t.Errorf("%s: type and title are required", name)
			}
			if ids[p.ID] || p.ID <= 0 {
				t.Errorf("%s: id missing or not unique", name)
			}
			ids[p.ID] = true
			if g := p.GridPos; g == nil || g.H <= 0 || g.W <= 0 || g.X < 0 || g.Y < 0 || g.X+g.W > 24 {
				t.Errorf("%s: gridPos %+v: want h, w > 0 and x+w <= 24", name, g)
			} else {
				r := rect{g.X, g.Y, g.W, g.H}
				for _, o := range placed {
					if r.x < o.x+o.w && o.x < r.x+r.w && r.y < o.y+o.h && o.y < r.y+r.h {
						t.Errorf("%s: gridPos %+v overlaps another panel at %+v", name, r, o)
					}
				}
				placed = append(placed, r)
			}
			if p.Type == "row" {
				walk(p.Panels)
				continue
			}
			n++
			if !usesDSVar(p.Datasource) {
				t.Errorf("%s: datasource %s, want %s", name, p.Datasource, dsVar)
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s: no targets", name)
			}
			refs := map[string]bool{}
			for _, tg := range p.Targets {
				if tg.Expr == "" || tg.RefID == "" || refs[tg.RefID] {
					t.Errorf("%s: target %q: want an expr and a unique refId", name, tg.RefID)
				}
				refs[tg.RefID] = true
				if !usesDSVar(tg.Datasource) {
					t.Errorf("%s: target %s: datasource %s, want %s", name, tg.RefID, tg.Datasource, dsVar)
				}
			}
		}
	}
	walk(d.Panels)
	if n < 10 {
		t.Errorf("%d panels: the issue lists more", n)
	}
}

// TestDashboardUsesKnownMetrics: every metric and label a dashboard query
// (or variable) reads exists, every Grafana variable it uses is defined,
// and the panels the issue lists are there: switches, registrations,
// gateways up and round trip, concurrent calls, ASR and ACD per gateway,
// CDR lag and spool, API errors.
func TestDashboardUsesKnownMetrics(t *testing.T) {
	d := loadDashboard(t)
	defined := map[string]bool{"__rate_interval": true, "__interval": true, "__range": true}
	var exprs []string
	for _, v := range d.Templating.List {
		defined[v.Name] = true
		if v.Type != "query" {
			continue
		}
		var q struct{ Query string }
		if err := json.Unmarshal(v.Query, &q); err != nil {
			t.Fatalf("variable %s: query %s: %v", v.Name, v.Query, err)
		}
		// label_values(metric, label) is Grafana's, not PromQL.
		metric, label, ok := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(q.Query, "label_values("), ")"), ",")
		if !ok {
			t.Errorf("variable %s: query %q: want label_values(metric, label)", v.Name, q.Query)
			continue
		}
		exprs = append(exprs, fmt.Sprintf("%s{%s=\"\"}", strings.TrimSpace(metric), strings.TrimSpace(label)))
	}
	var walk func(ps []dashboardPanel)
	walk = func(ps []dashboardPanel) {
		for _, p := range ps {
			walk(p.Panels)
			for _, tg := range p.Targets {
				exprs = append(exprs, tg.Expr)
			}
		}
	}
	walk(d.Panels)

	used := map[string]bool{}
	for _, e := range exprs {
		for _, p := range checkExpr(e, nil) {
			t.Errorf("%s: %s", e, p)
		}
		refs := scanPromQL(e)
		for _, v := range refs.vars {
			if !defined[v] {
				t.Errorf("%s: variable $%s is not defined", e, v)
			}
		}
		for _, m := range refs.metrics {
			used[m] = true
		}
	}
	for _, m := range []string{
		"switchboard_switch_up", "switchboard_switch_reconnects_total", "switchboard_registrations",
		"switchboard_gateway_up", "switchboard_gateway_rtt_seconds", "switchboard_active_calls",
		"switchboard_gateway_calls_total", "switchboard_gateway_answered_seconds_total",
		"switchboard_cdr_hangup_to_queryable_seconds_bucket", "switchboard_cdr_spool_records",
		"switchboard_http_requests_total",
	} {
		if !used[m] {
			t.Errorf("no panel reads %s", m)
		}
	}
}

// TestKnownFollowsConventions runs promlint (the Prometheus naming
// conventions: _total counters, base units, no camelCase) over Known.
func TestKnownFollowsConventions(t *testing.T) {
	seen := map[string]bool{}
	var mfs []*dto.MetricFamily
	for _, m := range Known {
		if seen[m.Name] {
			t.Errorf("%s listed twice", m.Name)
		}
		seen[m.Name] = true
		if m.Help == "" || m.Exporter == "" {
			t.Errorf("%s: help and exporter are required", m.Name)
		}
		if !strings.HasPrefix(m.Name, "switchboard_") && m.Exporter != ExporterRuntime {
			t.Errorf("%s: Switchboard's metrics start with switchboard_", m.Name)
		}
		typ := map[Type]dto.MetricType{
			Counter: dto.MetricType_COUNTER, Gauge: dto.MetricType_GAUGE,
			Histogram: dto.MetricType_HISTOGRAM, Summary: dto.MetricType_SUMMARY,
		}[m.Type]
		metric := &dto.Metric{}
		switch m.Type {
		case Counter:
			metric.Counter = &dto.Counter{Value: new(float64)}
		case Gauge:
			metric.Gauge = &dto.Gauge{Value: new(float64)}
		case Histogram:
			metric.Histogram = &dto.Histogram{SampleCount: new(uint64), SampleSum: new(float64)}
		case Summary:
			metric.Summary = &dto.Summary{SampleCount: new(uint64), SampleSum: new(float64)}
		}
		mfs = append(mfs, &dto.MetricFamily{Name: &m.Name, Help: &m.Help, Type: &typ, Metric: []*dto.Metric{metric}})
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

// TestKnownMatchesExporters registers the collectors that exist in this
// repository as the daemon does, and checks that what they export is in
// Known with the same type and labels, and that the presence, CDR and
// runtime families of Known are all exported: the list documents the
// code, not a wish.
// idleXMLCurlSources is an xml_curl Directory and GatewayOrderer that is never
// asked: the handler only has to exist for its metric to be exported.
type idleXMLCurlSources struct{}

func (idleXMLCurlSources) AccountByUsername(context.Context, string, string) (*provisioning.Account, error) {
	return nil, provisioning.ErrNotFound
}
func (idleXMLCurlSources) Gateways(context.Context) ([]provisioning.Gateway, error) { return nil, nil }
func (idleXMLCurlSources) RouteDID(context.Context, string) (*provisioning.Account, error) {
	return nil, provisioning.ErrNotFound
}
func (idleXMLCurlSources) DomainExists(context.Context, string) (bool, error) { return false, nil }

func (idleXMLCurlSources) GatewaysByCost(context.Context, []int64, string, time.Time) ([]provisioning.GatewayCost, error) {
	return nil, nil
}

func TestKnownMatchesExporters(t *testing.T) {
	ctx := context.Background()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	v := presence.New()
	f := v.Feed("sw")
	f.SetConnected(true, nil)
	f.PutRegistration(presence.Registration{Domain: "d", User: "u", Contact: "sip:u@h", Transport: "udp"})
	f.PutGateway(presence.Gateway{Name: "gw", State: presence.GatewayUp, RTT: time.Millisecond})
	f.PutCall(presence.Call{ID: "c", Direction: "internal"})
	reg.MustRegister(v.Collector())

	db, err := sqldb.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := sqldb.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	var one int
	if err := db.GetContext(ctx, &one, "SELECT 1"); err != nil { // observed by the store histogram
		t.Fatal(err)
	}
	if _, err := cdr.NewPipeline(cdrstore.NewStore(db), nil, cdr.PipelineConfig{SpoolDir: t.TempDir(), Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	for _, node := range []string{"ast1", "ast2"} { // one family, a series set per node
		p := asterisk.NewConfigPusher(asterisk.PusherConfig{Switch: node})
		if err := reg.Register(p.Collector()); err != nil {
			t.Fatal(err)
		}
	}
	for _, node := range []string{"fs1", "fs2"} { // one family, a series set per node
		if _, err := freeswitch.New(freeswitch.Config{Name: node, Addr: "127.0.0.1:8021", Password: "x", Registerer: reg}); err != nil {
			t.Fatal(err)
		}
	}
	for _, node := range []string{"fs1", "fs2"} { // the least-cost lookups of each node's xml_curl answers
		freeswitch.NewXMLCurlHandler(freeswitch.XMLCurlConfig{Node: node, Directory: idleXMLCurlSources{}, Orderer: idleXMLCurlSources{}, Registerer: reg})
	}
	reg.MustRegister(authz.New(nil, nil, nil, nil, nil, authz.Config{}).Collector())
	hm, err := api.NewHTTPMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	hm.Measure(api.DialectOf("/dcp/"), http.NotFoundHandler()).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	for _, mf := range mfs {
		name := mf.GetName()
		exported[name] = true
		m, ok := Lookup(name)
		if !ok || m.Name != name {
			if strings.HasPrefix(name, "switchboard_") {
				t.Errorf("%s is exported but not in Known", name)
			}
			continue
		}
		if got := strings.ToLower(mf.GetType().String()); got != string(m.Type) {
			t.Errorf("%s: exported as %s, Known says %s", name, got, m.Type)
		}
		for _, s := range mf.GetMetric() {
			var labels []string
			for _, l := range s.GetLabel() {
				labels = append(labels, l.GetName())
			}
			if want := slices.Sorted(slices.Values(m.Labels)); !slices.Equal(labels, want) {
				t.Errorf("%s: exported with labels %v, Known says %v", name, labels, want)
			}
		}
	}
	for _, m := range Known {
		switch m.Exporter {
		case ExporterPresence, ExporterCDR, ExporterFreeSWITCH, ExporterAsterisk, ExporterStore, ExporterRuntime, ExporterAPI, ExporterAuthz:
			if !exported[m.Name] {
				t.Errorf("%s is in Known but not exported by the %s", m.Name, m.Exporter)
			}
		}
	}
}

const (
	tableStart = "<!-- metrics:start (generated from names.go by go test ./metrics -update) -->"
	tableEnd   = "<!-- metrics:end -->"
)

// metricsTable renders Known as README.md's tables, one per exporter.
func metricsTable() string {
	var b strings.Builder
	b.WriteString(tableStart + "\n")
	exporter := ""
	for _, m := range Known {
		if m.Exporter != exporter {
			exporter = m.Exporter
			fmt.Fprintf(&b, "\n#### %s\n\n| Metric | Type | Labels | Meaning |\n|---|---|---|---|\n", exporter)
		}
		labels := "—"
		if len(m.Labels) > 0 {
			labels = "`" + strings.Join(m.Labels, "`, `") + "`"
		}
		help := strings.ReplaceAll(m.Help, "|", `\|`)
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", m.Name, m.Type, labels, help)
	}
	b.WriteString("\n" + tableEnd)
	return b.String()
}

// TestREADMETable keeps README.md's tables equal to Known; -update
// rewrites them.
func TestREADMETable(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(readme)
	i, j := strings.Index(s, tableStart), strings.Index(s, tableEnd)
	if i < 0 || j < i {
		t.Fatalf("README.md: markers %q … %q not found", tableStart, tableEnd)
	}
	want := s[:i] + metricsTable() + s[j+len(tableEnd):]
	if want == s {
		return
	}
	if *update {
		if err := os.WriteFile("README.md", []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Error("README.md's metric tables differ from Known: run go test ./metrics -update")
}
