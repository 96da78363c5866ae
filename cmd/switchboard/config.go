package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-voip/switchboard/internal/smtpmail"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/provisioning"
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
	SMTP     SMTPConfig     `yaml:"smtp"`
	// Recordings: how long call recordings are kept.
	Recordings RecordingsConfig `yaml:"recordings"`
	// Switches are the switch nodes Switchboard manages. They are set in
	// the file only: a list does not fit environment variables or flags.
	Switches switchList `yaml:"switches"`
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

// RecordingsConfig tunes call recording. Which calls are recorded is
// provisioning (DIDs, extensions, a tenant's recording policy); where the
// switch writes them is each node's recordings_dir.
type RecordingsConfig struct {
	// Retention is how long a recording is kept when its tenant's policy
	// does not say (at least a day).
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

// MetricsConfig is where /metrics is served besides the main listener.
type MetricsConfig struct {
	// Listen, when set, is a listener serving only /metrics, so that
	// Prometheus can scrape from a network the API is not exposed to.
	Listen string `yaml:"listen"`
}

// DCPConfig places the dcp dialect: under Mount on the main listener, and/or
// at / on a listener of its own so an existing client changes only its base
// URL.
type DCPConfig struct {
	Mount  string `yaml:"mount"`
	Listen string `yaml:"listen"`
	// DefaultDomain is the DCP whose tenant gets the users an admin token
	// creates without dcp or tenant (the document's user/create has
	// neither); empty: such a request is a 400.
	DefaultDomain string `yaml:"default_domain"`
}

// SMTPConfig is the mail server voicemail messages are e-mailed through
// (provisioning/notify); without Addr nothing is e-mailed.
type SMTPConfig struct {
	Addr     string `yaml:"addr"`
	From     string `yaml:"from"`
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	TLS      string `yaml:"tls"`
}

// client is the smtpmail configuration.
func (c SMTPConfig) client() smtpmail.Config {
	return smtpmail.Config{Addr: c.Addr, From: c.From, Username: c.Username, Password: c.Password, TLS: c.TLS}
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
		Database:   DatabaseConfig{DSN: "sqlite:./data/switchboard.db"},
		HTTP:       HTTPConfig{Listen: "127.0.0.1:8080", ShutdownTimeout: 15 * time.Second, MaxBodyBytes: 1 << 20},
		DCP:        DCPConfig{Mount: "/dcp/"},
		CDR:        CDRConfig{SpoolDir: "./data/spool", BatchSize: 5000, QueueSize: 100000},
		Recordings: RecordingsConfig{Retention: Days(provisioning.DefaultRecordingRetention)},
		SIP:        SIPConfig{Interval: 30 * time.Second, Timeout: 5 * time.Second, Misses: 3, LagThreshold: time.Second},
		Log:        LogConfig{Level: "info", Format: "text"},
	}
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
	if time.Duration(c.Recordings.Retention) < 24*time.Hour {
		return &ConfigError{Key: "recordings.retention", Reason: "must be at least 1d"}
	}
	if err := c.SIP.validate(); err != nil {
		return err
	}
	if err := validateSwitches(c.Switches, c.SIP.Enabled); err != nil {
		return err
	}
	if c.SMTP.Addr != "" || c.SMTP.From != "" {
		if err := c.SMTP.client().Validate(); err != nil {
			key, reason, _ := strings.Cut(err.Error(), ": ")
			return &ConfigError{Key: "smtp." + key, Reason: reason}
		}
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
