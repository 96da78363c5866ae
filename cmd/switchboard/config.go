package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/api"
	"github.com/switchboard-voip/switchboard/sip"
)

// Config is the daemon's configuration. It is read from a YAML file, then
// SWITCHBOARD_* environment variables, then command-line flags, each
// overriding the one before.
type Config struct {
	Database DatabaseConfig `yaml:"database"`
	HTTP     HTTPConfig     `yaml:"http"`
	DCP      DCPConfig      `yaml:"dcp"`
	Metrics  MetricsConfig  `yaml:"metrics"`
	CDR      CDRConfig      `yaml:"cdr"`
	SIP      SIPConfig      `yaml:"sip"`
	Log      LogConfig      `yaml:"log"`
	// Switches are the switch nodes Switchboard manages. They are set in
	// the file only: a list does not fit environment variables or flags.
	Switches []SwitchConfig `yaml:"switches"`
}

// SwitchConfig is one managed switch node.
type SwitchConfig struct {
	// Name identifies the node in presence, CDRs (half of each CDR's
	// identity: never rename a node that has CDRs) and metrics.
	Name string `yaml:"name"`
	// Type is the adapter: asterisk or freeswitch.
	Type string `yaml:"type"`
	// URL is ARI's base URL, e.g. http://127.0.0.1:8088/ari (asterisk).
	URL  string `yaml:"url"`
	User string `yaml:"user"`
	// Password is ARI's (ari.conf) or the event socket's
	// (event_socket.conf.xml).
	Password string `yaml:"password"`
	// ESL is FreeSWITCH's event socket, host:port (freeswitch).
	ESL string `yaml:"esl"`
	// Profiles are the sofia profiles whose registrations are read
	// (freeswitch; empty: every profile).
	Profiles []string `yaml:"profiles"`
	// PhoneProfile and GatewayProfile are the sofia profiles of phones
	// and of gateways (freeswitch; internal and external by default).
	PhoneProfile   string `yaml:"phone_profile"`
	GatewayProfile string `yaml:"gateway_profile"`
	// UserContext is the dialplan context of phones (freeswitch;
	// default by default).
	UserContext string `yaml:"user_context"`
	// HTTPUser and HTTPPassword are the basic-auth credentials FreeSWITCH
	// sends to /freeswitch/<name>/xml-curl and /freeswitch/<name>/cdr
	// (xml_curl.conf.xml gateway-credentials, json_cdr.conf.xml cred);
	// HTTPAllow the source networks allowed to call them. At least one of
	// the two is required for a freeswitch node.
	HTTPUser     string   `yaml:"http_user"`
	HTTPPassword string   `yaml:"http_password"`
	HTTPAllow    []string `yaml:"http_allow"`
	// App is the ARI application name; "switchboard" when empty.
	App string `yaml:"app"`
	// Domain is the SIP domain this node serves: only its accounts are
	// pushed, as plain usernames. Empty pushes every domain's accounts
	// named user@domain.
	Domain string `yaml:"domain"`
	// MetricsURL is res_prometheus's endpoint ("" = /metrics on ARI's
	// server, "-" = off).
	MetricsURL string `yaml:"metrics_url"`
	// ReconcileInterval is how often presence is re-read over REST.
	ReconcileInterval time.Duration `yaml:"reconcile_interval"`
	// CDRFile, when set, is Asterisk's own CDR file (Master.csv or a
	// cdr_custom file) on this machine: it is tailed so that calls which
	// ended while Switchboard was down or disconnected are recovered.
	CDRFile string `yaml:"cdr_file"`
	// CDRFileTimezone is the zone Asterisk writes that file's times in
	// (UTC with usegmtime=yes, the default here).
	CDRFileTimezone string `yaml:"cdr_file_timezone"`
	// SIPURI is the node's SIP listener, probed with OPTIONS when
	// sip.enabled (e.g. sip:127.0.0.1:5060;transport=udp); empty: not
	// probed.
	SIPURI string `yaml:"sip_uri"`
	// RegisterCheck is the AOR (user@domain) of a provisioned probe
	// account that REGISTERs to SIPURI every RegisterCheckInterval, to
	// prove the node still takes registrations; its secret is read from
	// the provisioning store. Empty: no check.
	RegisterCheck         string        `yaml:"register_check"`
	RegisterCheckInterval time.Duration `yaml:"register_check_interval"`
}

// SIPConfig is Switchboard's own SIP probing: OPTIONS to every
// provisioned gateway, to the switches' listeners and, opt-in, to the
// registered contacts of some domains, and the switches' register checks.
type SIPConfig struct {
	Enabled bool `yaml:"enabled"`
	// Interval is how often each gateway and switch is probed.
	Interval time.Duration `yaml:"interval"`
	// Timeout bounds one OPTIONS transaction (capped at the interval).
	Timeout time.Duration `yaml:"timeout"`
	// Misses is how many probes in a row go unanswered before a target
	// is unreachable.
	Misses int `yaml:"misses"`
	// LagThreshold marks answers slower than it as lagged.
	LagThreshold time.Duration `yaml:"lag_threshold"`
	// Listen is the local IP the probe sockets bind; "" = every address.
	Listen string `yaml:"listen"`
	// QualifyDomains are the domains whose registered contacts are
	// qualified too (phones: opt-in, as they may be many).
	QualifyDomains []string `yaml:"qualify_domains"`
	// QualifyInterval is how often each contact is probed; 0 = Interval.
	QualifyInterval time.Duration `yaml:"qualify_interval"`
}

// CDRConfig tunes CDR ingestion and retention.
type CDRConfig struct {
	// SpoolDir holds CDRs acknowledged while the database was unreachable,
	// until they are replayed. It must be on durable local storage.
	SpoolDir  string `yaml:"spool_dir"`
	BatchSize int    `yaml:"batch_size"`
	QueueSize int    `yaml:"queue_size"`
	// Retention is how long CDRs are kept; 0 keeps them forever.
	Retention Days `yaml:"retention"`
}

// Days is a duration that also accepts a number of days ("400d"), the
// unit retention is thought of in.
type Days time.Duration

// UnmarshalText parses "400d" or a Go duration ("720h").
func (d *Days) UnmarshalText(b []byte) error {
	v, err := parseDays(string(b))
	if err != nil {
		return err
	}
	*d = Days(v)
	return nil
}

func parseDays(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 {
			return 0, errors.New("must be a number of days like 400d, or a duration like 720h")
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	return parseDuration(s)
}

func formatDays(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	}
	return d.String()
}

// DatabaseConfig chooses the store.
type DatabaseConfig struct {
	DSN string `yaml:"dsn"`
}

// HTTPConfig is the main listener (native API, dcp, health, metrics).
type HTTPConfig struct {
	Listen          string        `yaml:"listen"`
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	MaxBodyBytes    int64         `yaml:"max_body_bytes"`
}

// DCPConfig places the dcp dialect: under Mount on the main listener, and/or
// at / on a listener of its own so an existing client changes only its base
// URL.
// MetricsConfig is where /metrics is served besides the main listener.
type MetricsConfig struct {
	// Listen, when set, is a listener serving only /metrics, so that
	// Prometheus can scrape from a network the API is not exposed to.
	Listen string `yaml:"listen"`
}

type DCPConfig struct {
	Mount  string `yaml:"mount"`
	Listen string `yaml:"listen"`
}

// LogConfig sets the structured logger.
type LogConfig struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// DefaultConfig serves a newcomer: SQLite in ./data, loopback HTTP, no
// switch.
func DefaultConfig() Config {
	return Config{
		Database: DatabaseConfig{DSN: "sqlite:./data/switchboard.db"},
		HTTP:     HTTPConfig{Listen: "127.0.0.1:8080", ShutdownTimeout: 15 * time.Second, MaxBodyBytes: 1 << 20},
		DCP:      DCPConfig{Mount: "/dcp/"},
		CDR:      CDRConfig{SpoolDir: "./data/spool", BatchSize: 5000, QueueSize: 100000},
		SIP:      SIPConfig{Interval: 30 * time.Second, Timeout: 5 * time.Second, Misses: 3, LagThreshold: time.Second},
		Log:      LogConfig{Level: "info", Format: "text"},
	}
}

// setting is one configuration key: its dotted name (the YAML path), how to
// set it from a string (environment and flags), and a one-line help.
type setting struct {
	key  string
	help string
	set  func(c *Config, v string) error
	get  func(c *Config) string
}

// EnvName is the environment variable of a key: database.dsn ->
// SWITCHBOARD_DATABASE_DSN.
func (s setting) EnvName() string {
	return "SWITCHBOARD_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(s.key))
}

// FlagName is the flag of a key: database.dsn -> --database-dsn.
func (s setting) FlagName() string { return strings.NewReplacer(".", "-", "_", "-").Replace(s.key) }

func parseInt(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, errors.New("must be an integer")
	}
	return n, nil
}

func parseDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, errors.New("must be a duration like 15s or 1m")
	}
	return d, nil
}

// settings lists every key; the README's configuration reference is
// checked against it by a test.
var settings = []setting{
	{key: "database.dsn", help: "store: sqlite:PATH or postgres://user:pass@host/db",
		set: func(c *Config, v string) error { c.Database.DSN = v; return nil },
		get: func(c *Config) string { return sqldb.Redact(c.Database.DSN) }},
	{key: "http.listen", help: "address of the HTTP API (host:port)",
		set: func(c *Config, v string) error { c.HTTP.Listen = v; return nil },
		get: func(c *Config) string { return c.HTTP.Listen }},
	{key: "http.shutdown_timeout", help: "how long SIGTERM waits for in-flight requests",
		set: func(c *Config, v string) (err error) { c.HTTP.ShutdownTimeout, err = parseDuration(v); return },
		get: func(c *Config) string { return c.HTTP.ShutdownTimeout.String() }},
	{key: "http.max_body_bytes", help: "largest request body accepted",
		set: func(c *Config, v string) (err error) {
			c.HTTP.MaxBodyBytes, err = strconv.ParseInt(v, 10, 64)
			if err != nil {
				return errors.New("must be an integer number of bytes")
			}
			return nil
		},
		get: func(c *Config) string { return strconv.FormatInt(c.HTTP.MaxBodyBytes, 10) }},
	{key: "dcp.mount", help: `path prefix of the dcp dialect on the main listener ("" disables)`,
		set: func(c *Config, v string) error { c.DCP.Mount = v; return nil },
		get: func(c *Config) string { return c.DCP.Mount }},
	{key: "dcp.listen", help: "optional own listener serving the dcp dialect at /",
		set: func(c *Config, v string) error { c.DCP.Listen = v; return nil },
		get: func(c *Config) string { return c.DCP.Listen }},
	{key: "metrics.listen", help: "optional own listener serving only /metrics",
		set: func(c *Config, v string) error { c.Metrics.Listen = v; return nil },
		get: func(c *Config) string { return c.Metrics.Listen }},
	{key: "cdr.spool_dir", help: "directory of the CDR spool used while the database is unreachable",
		set: func(c *Config, v string) error { c.CDR.SpoolDir = v; return nil },
		get: func(c *Config) string { return c.CDR.SpoolDir }},
	{key: "cdr.batch_size", help: "most CDRs written in one transaction",
		set: func(c *Config, v string) (err error) { c.CDR.BatchSize, err = parseInt(v); return },
		get: func(c *Config) string { return strconv.Itoa(c.CDR.BatchSize) }},
	{key: "cdr.queue_size", help: "CDRs held in memory before submitters wait (back-pressure)",
		set: func(c *Config, v string) (err error) { c.CDR.QueueSize, err = parseInt(v); return },
		get: func(c *Config) string { return strconv.Itoa(c.CDR.QueueSize) }},
	{key: "cdr.retention", help: "how long CDRs are kept, like 400d; 0 keeps them forever",
		set: func(c *Config, v string) error {
			d, err := parseDays(v)
			c.CDR.Retention = Days(d)
			return err
		},
		get: func(c *Config) string { return formatDays(time.Duration(c.CDR.Retention)) }},
	{key: "sip.enabled", help: "probe gateways, switches and contacts with SIP OPTIONS (true or false)",
		set: func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return errors.New("must be true or false")
			}
			c.SIP.Enabled = b
			return nil
		},
		get: func(c *Config) string { return strconv.FormatBool(c.SIP.Enabled) }},
	{key: "sip.interval", help: "how often each gateway and switch is probed",
		set: func(c *Config, v string) (err error) { c.SIP.Interval, err = parseDuration(v); return },
		get: func(c *Config) string { return c.SIP.Interval.String() }},
	{key: "sip.timeout", help: "how long one OPTIONS waits for its answer (at most the interval)",
		set: func(c *Config, v string) (err error) { c.SIP.Timeout, err = parseDuration(v); return },
		get: func(c *Config) string { return c.SIP.Timeout.String() }},
	{key: "sip.misses", help: "unanswered probes in a row before a target is unreachable",
		set: func(c *Config, v string) (err error) { c.SIP.Misses, err = parseInt(v); return },
		get: func(c *Config) string { return strconv.Itoa(c.SIP.Misses) }},
	{key: "sip.lag_threshold", help: "answers slower than this are lagged",
		set: func(c *Config, v string) (err error) { c.SIP.LagThreshold, err = parseDuration(v); return },
		get: func(c *Config) string { return c.SIP.LagThreshold.String() }},
	{key: "sip.listen", help: `local IP address the probes are sent from ("" = any)`,
		set: func(c *Config, v string) error { c.SIP.Listen = v; return nil },
		get: func(c *Config) string { return c.SIP.Listen }},
	{key: "sip.qualify_domains", help: "comma-separated SIP domains whose registered contacts are probed too",
		set: func(c *Config, v string) error {
			c.SIP.QualifyDomains = nil
			for _, d := range strings.Split(v, ",") {
				if d = strings.TrimSpace(d); d != "" {
					c.SIP.QualifyDomains = append(c.SIP.QualifyDomains, d)
				}
			}
			return nil
		},
		get: func(c *Config) string { return strings.Join(c.SIP.QualifyDomains, ",") }},
	{key: "sip.qualify_interval", help: "how often each contact is probed; 0 = sip.interval",
		set: func(c *Config, v string) (err error) { c.SIP.QualifyInterval, err = parseDuration(v); return },
		get: func(c *Config) string { return c.SIP.QualifyInterval.String() }},
	{key: "log.level", help: "debug, info, warn or error",
		set: func(c *Config, v string) error { c.Log.Level = v; return nil },
		get: func(c *Config) string { return c.Log.Level }},
	{key: "log.format", help: "text or json",
		set: func(c *Config, v string) error { c.Log.Format = v; return nil },
		get: func(c *Config) string { return c.Log.Format }},
}

// ConfigError names the key at fault and where its value came from.
type ConfigError struct {
	Key    string // dotted key, e.g. http.listen
	Source string // "file config.yaml", "environment SWITCHBOARD_HTTP_LISTEN", "flag --http-listen"
	Reason string
}

func (e *ConfigError) Error() string {
	if e.Source == "" {
		return fmt.Sprintf("config: %s: %s", e.Key, e.Reason)
	}
	return fmt.Sprintf("config: %s (from %s): %s", e.Key, e.Source, e.Reason)
}

// LoadConfig builds the configuration from the file named by --config (or
// $SWITCHBOARD_CONFIG), the environment and the flags in args (every key
// has one), and validates it. env is os.Environ()-shaped, so tests pass
// their own.
func LoadConfig(fs *flag.FlagSet, args []string, env []string) (Config, error) {
	cf := addConfigFlags(fs, "")
	if err := fs.Parse(args); err != nil {
		return DefaultConfig(), err
	}
	if err := noArgs(fs); err != nil {
		return DefaultConfig(), err
	}
	return cf.load(fs, env)
}

// configFlags are the configuration flags of one command: --config and
// the flags of the keys it uses. Keys without a flag still come from the
// file and the environment, which the daemon shares with its commands.
type configFlags struct {
	path string
	vals map[string]*string // by key
}

// addConfigFlags defines --config and the flag of every key starting with
// one of prefixes ("" is every key) on fs. The flags' defaults are shown
// in the usage only: a flag sets its key when it is given.
func addConfigFlags(fs *flag.FlagSet, prefixes ...string) *configFlags {
	cf := &configFlags{vals: map[string]*string{}}
	fs.StringVar(&cf.path, "config", "", "YAML configuration `file` (default $SWITCHBOARD_CONFIG)")
	def := DefaultConfig()
	for _, s := range settings {
		for _, p := range prefixes {
			if strings.HasPrefix(s.key, p) {
				cf.vals[s.key] = fs.String(s.FlagName(), s.get(&def), s.help+" (env "+s.EnvName()+")")
				break
			}
		}
	}
	return cf
}

// load builds the configuration after fs has parsed the command line: the
// file, then the environment, then the flags given.
func (cf *configFlags) load(fs *flag.FlagSet, env []string) (Config, error) {
	cfg := DefaultConfig()
	envMap := map[string]string{}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			envMap[k] = v
		}
	}
	configPath := cf.path
	if configPath == "" {
		configPath = envMap["SWITCHBOARD_CONFIG"]
	}
	if configPath != "" {
		if err := loadFile(&cfg, configPath); err != nil {
			return cfg, err
		}
	}
	known := map[string]bool{"SWITCHBOARD_CONFIG": true}
	for _, s := range settings {
		known[s.EnvName()] = true
		if v, ok := envMap[s.EnvName()]; ok {
			if err := s.set(&cfg, v); err != nil {
				return cfg, &ConfigError{Key: s.key, Source: "environment " + s.EnvName(), Reason: err.Error()}
			}
		}
	}
	for k := range envMap {
		if strings.HasPrefix(k, "SWITCHBOARD_") && !known[k] && !strings.HasPrefix(k, "SWITCHBOARD_TEST_") {
			return cfg, &ConfigError{Key: k, Source: "environment", Reason: "unknown variable"}
		}
	}
	var setErr error
	fs.Visit(func(f *flag.Flag) {
		for _, s := range settings {
			if v, ok := cf.vals[s.key]; ok && s.FlagName() == f.Name && setErr == nil {
				if err := s.set(&cfg, *v); err != nil {
					setErr = &ConfigError{Key: s.key, Source: "flag --" + f.Name, Reason: err.Error()}
				}
			}
		}
	})
	if setErr != nil {
		return cfg, setErr
	}
	return cfg, cfg.Validate()
}

func loadFile(cfg *Config, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)                                              // a misspelt key is an error, not a silent default
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) { // an empty file sets nothing
		return &ConfigError{Key: yamlKey(err), Source: "file " + path, Reason: yamlReason(err)}
	}
	return nil
}

// yamlKey pulls the offending key out of a yaml.v3 error message such as
// "line 3: field lisen not found in type main.HTTPConfig".
func yamlKey(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "field "); i >= 0 {
		rest := msg[i+len("field "):]
		if j := strings.Index(rest, " not found"); j >= 0 {
			return rest[:j]
		}
	}
	return "(file)"
}

func yamlReason(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.ReplaceAll(msg, "unmarshal errors:\n  ", "")
	if strings.Contains(msg, "not found in type") {
		return "unknown key (" + msg + ")"
	}
	return msg
}

// Validate checks every value and names the key at fault.
func (c Config) Validate() error {
	if _, _, err := sqldb.ParseDSN(c.Database.DSN); err != nil {
		return &ConfigError{Key: "database.dsn", Reason: strings.TrimPrefix(err.Error(), "sqldb: ")}
	}
	if err := checkListen(c.HTTP.Listen); err != nil {
		return &ConfigError{Key: "http.listen", Reason: err.Error()}
	}
	if c.HTTP.ShutdownTimeout <= 0 {
		return &ConfigError{Key: "http.shutdown_timeout", Reason: "must be positive"}
	}
	if c.HTTP.MaxBodyBytes < 1024 || c.HTTP.MaxBodyBytes > 64<<20 {
		return &ConfigError{Key: "http.max_body_bytes", Reason: "must be between 1024 and 67108864"}
	}
	if m := c.DCP.Mount; m != "" && (!strings.HasPrefix(m, "/") || !strings.HasSuffix(m, "/") || m == "/" || strings.HasPrefix(m, "/api/")) {
		return &ConfigError{Key: "dcp.mount", Reason: `must be a path like /dcp/ (leading and trailing slash, not / or under /api/)`}
	}
	if c.DCP.Listen != "" {
		if err := checkListen(c.DCP.Listen); err != nil {
			return &ConfigError{Key: "dcp.listen", Reason: err.Error()}
		}
		if c.DCP.Listen == c.HTTP.Listen {
			return &ConfigError{Key: "dcp.listen", Reason: "must differ from http.listen"}
		}
	}
	if c.Metrics.Listen != "" {
		if err := checkListen(c.Metrics.Listen); err != nil {
			return &ConfigError{Key: "metrics.listen", Reason: err.Error()}
		}
		if !strings.HasSuffix(c.Metrics.Listen, ":0") && (c.Metrics.Listen == c.HTTP.Listen || c.Metrics.Listen == c.DCP.Listen) {
			return &ConfigError{Key: "metrics.listen", Reason: "must differ from http.listen and dcp.listen"}
		}
	}
	if c.CDR.SpoolDir == "" {
		return &ConfigError{Key: "cdr.spool_dir", Reason: "is required"}
	}
	if c.CDR.BatchSize < 1 || c.CDR.BatchSize > 50000 {
		return &ConfigError{Key: "cdr.batch_size", Reason: "must be between 1 and 50000"}
	}
	if c.CDR.QueueSize < c.CDR.BatchSize || c.CDR.QueueSize > 10_000_000 {
		return &ConfigError{Key: "cdr.queue_size", Reason: "must be at least cdr.batch_size and at most 10000000"}
	}
	if r := time.Duration(c.CDR.Retention); r != 0 && r < 24*time.Hour {
		return &ConfigError{Key: "cdr.retention", Reason: "must be 0 (forever) or at least 1d"}
	}
	if err := c.SIP.validate(); err != nil {
		return err
	}
	seen := map[string]bool{}
	for i, sw := range c.Switches {
		key := func(field string) string { return fmt.Sprintf("switches[%d].%s", i, field) }
		switch {
		case !switchNameRe.MatchString(sw.Name):
			return &ConfigError{Key: key("name"), Reason: "must be 1-32 lower-case letters, digits, _ or -"}
		case seen[sw.Name]:
			return &ConfigError{Key: key("name"), Reason: fmt.Sprintf("%q is used twice", sw.Name)}
		case sw.Type != "asterisk" && sw.Type != "freeswitch":
			return &ConfigError{Key: key("type"), Reason: "must be asterisk or freeswitch"}
		case sw.Type == "asterisk" && !strings.HasPrefix(sw.URL, "http://") && !strings.HasPrefix(sw.URL, "https://"):
			return &ConfigError{Key: key("url"), Reason: "must be ARI's http(s) URL, like http://127.0.0.1:8088/ari"}
		case sw.Type == "asterisk" && sw.User == "":
			return &ConfigError{Key: key("user"), Reason: "is required (the ari.conf user)"}
		case sw.Type == "asterisk" && sw.Password == "":
			return &ConfigError{Key: key("password"), Reason: "is required (the ari.conf password)"}
		case sw.Type == "freeswitch" && !validHostPort(sw.ESL):
			return &ConfigError{Key: key("esl"), Reason: "must be the event socket's host:port, like 127.0.0.1:8021"}
		case sw.Type == "freeswitch" && sw.Password == "":
			return &ConfigError{Key: key("password"), Reason: "is required (event_socket.conf.xml's password)"}
		case sw.Type == "freeswitch" && sw.HTTPPassword == "" && len(sw.HTTPAllow) == 0:
			return &ConfigError{Key: key("http_password"), Reason: "http_password (with http_user) or http_allow is required: the xml-curl endpoint hands out SIP credentials"}
		case sw.Type == "freeswitch" && (sw.HTTPUser == "") != (sw.HTTPPassword == ""):
			return &ConfigError{Key: key("http_user"), Reason: "http_user and http_password go together"}
		case sw.ReconcileInterval < 0:
			return &ConfigError{Key: key("reconcile_interval"), Reason: "must not be negative"}
		}
		if k := foreignSwitchKey(sw); k != "" {
			return &ConfigError{Key: key(k), Reason: fmt.Sprintf("is not a setting of a %s node", sw.Type)}
		}
		for j, n := range sw.HTTPAllow {
			if _, err := parsePrefix(n); err != nil {
				return &ConfigError{Key: fmt.Sprintf("switches[%d].http_allow[%d]", i, j), Reason: "must be an address or a network like 10.0.0.0/8"}
			}
		}
		if sw.CDRFileTimezone != "" {
			if _, err := time.LoadLocation(sw.CDRFileTimezone); err != nil {
				return &ConfigError{Key: key("cdr_file_timezone"), Reason: "must be a time zone name like Europe/Berlin or UTC"}
			}
		}
		if sw.Domain != "" && provisioning.ValidateDomainName(sw.Domain) != nil {
			return &ConfigError{Key: key("domain"), Reason: "must be a SIP domain name"}
		}
		if err := validateSwitchSIP(sw, c.SIP.Enabled, key); err != nil {
			return err
		}
		seen[sw.Name] = true
	}
	if _, err := parseLevel(c.Log.Level); err != nil {
		return &ConfigError{Key: "log.level", Reason: err.Error()}
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		return &ConfigError{Key: "log.format", Reason: "must be text or json"}
	}
	return nil
}

// validate checks the sip section. Its values are checked even while
// probing is disabled, so that enabling it later cannot fail on a typo.
func (c SIPConfig) validate() error {
	switch {
	case c.Interval < 100*time.Millisecond || c.Interval > time.Hour:
		return &ConfigError{Key: "sip.interval", Reason: "must be between 100ms and 1h"}
	case c.Timeout <= 0 || c.Timeout > time.Minute:
		return &ConfigError{Key: "sip.timeout", Reason: "must be positive and at most 1m"}
	case c.Misses < 1 || c.Misses > 100:
		return &ConfigError{Key: "sip.misses", Reason: "must be between 1 and 100"}
	case c.LagThreshold <= 0:
		return &ConfigError{Key: "sip.lag_threshold", Reason: "must be positive"}
	case c.Listen != "" && net.ParseIP(c.Listen) == nil:
		return &ConfigError{Key: "sip.listen", Reason: "must be a local IP address (no port: each transport picks a free one), or empty for any"}
	case c.QualifyInterval != 0 && (c.QualifyInterval < 100*time.Millisecond || c.QualifyInterval > time.Hour):
		return &ConfigError{Key: "sip.qualify_interval", Reason: "must be 0 (sip.interval) or between 100ms and 1h"}
	}
	for i, d := range c.QualifyDomains {
		if provisioning.ValidateDomainName(strings.ToLower(d)) != nil {
			return &ConfigError{Key: fmt.Sprintf("sip.qualify_domains[%d]", i), Reason: fmt.Sprintf("%q is not a SIP domain name", d)}
		}
	}
	return nil
}

// validateSwitchSIP checks a switch's sip_uri and register check.
func validateSwitchSIP(sw SwitchConfig, probing bool, key func(string) string) error {
	if probing && sw.Name == api.ProbeFeed {
		return &ConfigError{Key: key("name"), Reason: fmt.Sprintf("%q is the SIP prober's name in the live view while sip.enabled is true: choose another", api.ProbeFeed)}
	}
	if sw.SIPURI != "" {
		if _, err := sip.ParseURI(sw.SIPURI); err != nil {
			return &ConfigError{Key: key("sip_uri"), Reason: err.Error() + ", like sip:127.0.0.1:5060;transport=udp"}
		}
	}
	if sw.RegisterCheck != "" {
		user, domain, ok := strings.Cut(sw.RegisterCheck, "@")
		if !ok || user == "" || provisioning.ValidateDomainName(strings.ToLower(domain)) != nil {
			return &ConfigError{Key: key("register_check"), Reason: "must be a probe account's AOR, user@domain"}
		}
		if sw.SIPURI == "" {
			return &ConfigError{Key: key("register_check"), Reason: "needs sip_uri: the registrar the probe account registers to"}
		}
	}
	if sw.RegisterCheckInterval != 0 && (sw.RegisterCheckInterval < 100*time.Millisecond || sw.RegisterCheckInterval > 24*time.Hour) {
		return &ConfigError{Key: key("register_check_interval"), Reason: "must be 0 (60s) or between 100ms and 24h"}
	}
	return nil
}

// foreignSwitchKey names a key set on a node of a type that does not use
// it (a cdr_file on a FreeSWITCH node would look active and do nothing).
func foreignSwitchKey(sw SwitchConfig) string {
	asteriskOnly := []struct {
		key string
		set bool
	}{{"url", sw.URL != ""}, {"user", sw.User != ""}, {"app", sw.App != ""}, {"metrics_url", sw.MetricsURL != ""},
		{"cdr_file", sw.CDRFile != ""}, {"cdr_file_timezone", sw.CDRFileTimezone != ""}}
	freeswitchOnly := []struct {
		key string
		set bool
	}{{"esl", sw.ESL != ""}, {"profiles", len(sw.Profiles) > 0}, {"phone_profile", sw.PhoneProfile != ""},
		{"gateway_profile", sw.GatewayProfile != ""}, {"user_context", sw.UserContext != ""}, {"http_user", sw.HTTPUser != ""},
		{"http_password", sw.HTTPPassword != ""}, {"http_allow", len(sw.HTTPAllow) > 0}}
	other := asteriskOnly
	if sw.Type == "asterisk" {
		other = freeswitchOnly
	}
	for _, k := range other {
		if k.set {
			return k.key
		}
	}
	return ""
}

// validHostPort reports whether s is host:port with a numeric port.
func validHostPort(s string) bool {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n > 0 && n < 65536
}

// parsePrefix reads a network or a single address (a /32 or /128).
func parsePrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

var switchNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

func checkListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("must be host:port, like 127.0.0.1:8080")
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return errors.New("port must be a number from 0 to 65535")
	}
	if host != "" && net.ParseIP(host) == nil && strings.ContainsAny(host, " /") {
		return errors.New("host must be an IP address or a name")
	}
	return nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, errors.New("must be debug, info, warn or error")
	}
	return l, nil
}
