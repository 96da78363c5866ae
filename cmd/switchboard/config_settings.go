package main

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
)

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
	{key: "dcp.default_domain", help: "DCP (domain) whose tenant gets users an admin token creates with neither dcp nor tenant",
		set: func(c *Config, v string) error { c.DCP.DefaultDomain = v; return nil },
		get: func(c *Config) string { return c.DCP.DefaultDomain }},
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
	{key: "smtp.addr", help: "mail server (host:port) voicemail is e-mailed through; empty: no e-mail",
		set: func(c *Config, v string) error { c.SMTP.Addr = v; return nil },
		get: func(c *Config) string { return c.SMTP.Addr }},
	{key: "smtp.from", help: "sender address of the e-mails",
		set: func(c *Config, v string) error { c.SMTP.From = v; return nil },
		get: func(c *Config) string { return c.SMTP.From }},
	{key: "smtp.username", help: "login at the mail server (AUTH PLAIN)",
		set: func(c *Config, v string) error { c.SMTP.Username = v; return nil },
		get: func(c *Config) string { return c.SMTP.Username }},
	{key: "smtp.password", help: "its password",
		set: func(c *Config, v string) error { c.SMTP.Password = v; return nil },
		get: func(c *Config) string {
			if c.SMTP.Password == "" {
				return ""
			}
			return "(set)"
		}},
	{key: "smtp.tls", help: "opportunistic (STARTTLS when offered), required or none",
		set: func(c *Config, v string) error { c.SMTP.TLS = v; return nil },
		get: func(c *Config) string { return c.SMTP.TLS }},
	{key: "recordings.retention", help: "how long call recordings are kept when the tenant's recording policy does not say, like 90d",
		set: func(c *Config, v string) error {
			d, err := parseDays(v)
			c.Recordings.Retention = Days(d)
			return err
		},
		get: func(c *Config) string { return formatDays(time.Duration(c.Recordings.Retention)) }},
}
