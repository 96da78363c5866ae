package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
	"github.com/switchboard-voip/switchboard/switch/asterisk"
	"github.com/switchboard-voip/switchboard/switch/doctor"
	"github.com/switchboard-voip/switchboard/switch/freeswitch"
)

const doctorAbout = `doctor checks a live switch of the configuration against what Switchboard needs of it
and prints each check as ok, info, warn or FAIL, with what to fix. Asterisk is checked over
ARI (reachable and authorised, modules, writable PJSIP sorcery wizards, transports, the
application, res_prometheus), FreeSWITCH over ESL (reachable and authorised, modules,
xml_curl and json_cdr pointing at this daemon with safe settings, sofia profiles, the
directory cache, static directory users that shadow Switchboard's accounts or keep the stock
password 1234). It reads the store for the accounts and gateways to compare with; without
the store those comparisons are skipped. It changes nothing on the switch but a probe
object created and deleted at once (Asterisk) and an empty cache flush (FreeSWITCH).
Exit status 1 when a check FAILed.`

// errDoctorFailed is doctor's result when a check failed: the report is
// on standard output already.
var errDoctorFailed = errors.New("a check failed")

func runDoctor(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("doctor", "--switch NAME [flags]", doctorAbout)
	name := fs.String("switch", "", "`NAME` of the switch to check (switches[].name; required)")
	cf := addConfigFlags(fs, "database.")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *name == "" {
		return usagef(fs.Name(), "--switch is required")
	}
	cfg, err := cf.load(fs, env)
	if err != nil {
		return err
	}
	var sw *SwitchConfig
	var names []string
	for i := range cfg.Switches {
		names = append(names, cfg.Switches[i].Name)
		if cfg.Switches[i].Name == *name {
			sw = &cfg.Switches[i]
		}
	}
	if sw == nil {
		if len(names) == 0 {
			return usagef(fs.Name(), "no switch %q: the configuration has no switches", *name)
		}
		return usagef(fs.Name(), "no switch %q in the configuration (it has %s)", *name, strings.Join(names, ", "))
	}
	var checks []doctor.Check
	var svc *provisioning.Service
	cfg.Log.Level = "warn"
	if db, err := openDB(ctx, cfg, newLogger(cfg.Log, stderr)); err != nil {
		checks = append(checks, doctor.Check{Name: "store", Status: doctor.Warn, Detail: err.Error(),
			Fix: "the checks that compare the switch with Switchboard's accounts and gateways were skipped"})
	} else {
		defer db.Close()
		svc = provisioning.NewService(sqlstore.New(db))
	}
	if svc != nil && sw.Domain != "" {
		checks = append(checks, doctorDomain(ctx, svc, sw.Domain))
	}
	checks = append(checks, doctorChecks(ctx, cfg, sw, svc)...)
	fmt.Fprintf(stdout, "switchboard doctor: switch %s (%s)\n", sw.Name, sw.Type)
	writeChecks(stdout, checks)
	if doctor.Failed(checks) {
		return fmt.Errorf("doctor: switch %s: %w", sw.Name, errDoctorFailed)
	}
	return nil
}

// doctorChecks runs the adapter's checks of sw; svc may be nil.
func doctorChecks(ctx context.Context, cfg Config, sw *SwitchConfig, svc *provisioning.Service) []doctor.Check {
	switch {
	case sw.FreeSWITCH != nil:
		dc := freeswitch.DoctorConfig{Name: sw.Name, Node: sw.FreeSWITCH, Domain: sw.Domain, HTTPListen: cfg.HTTP.Listen}
		if svc != nil {
			dc.Directory = freeswitch.ServiceDirectory(svc)
		}
		return freeswitch.Doctor(ctx, dc)
	case sw.Asterisk != nil:
		opts := sw.Asterisk.PushOptions()
		opts.IDWithDomain = sw.Domain == ""
		dc := asterisk.DoctorConfig{Node: sw.Asterisk, Options: opts}
		if svc != nil {
			dc.Gateways = func(ctx context.Context) ([]provisioning.Gateway, error) { return allGateways(ctx, svc) }
			dc.Routes = func(ctx context.Context) ([]*provisioning.OutboundRoute, error) { return allOutboundRoutes(ctx, svc) }
		}
		return asterisk.Doctor(ctx, dc)
	}
	return nil
}

// allOutboundRoutes reads every tenant's outbound routes.
func allOutboundRoutes(ctx context.Context, svc *provisioning.Service) ([]*provisioning.OutboundRoute, error) {
	return allPages(func(p provisioning.Page) ([]*provisioning.OutboundRoute, error) {
		return svc.OutboundRoutes(ctx, provisioning.AdminScope(), provisioning.RoutingFilter{Page: p})
	}, func(r *provisioning.OutboundRoute) int64 { return r.ID })
}

// doctorDomain checks that the switch's domain is provisioned: only that
// domain's accounts are pushed to (or answered for) the switch, so a
// domain that differs from the provisioned one by a letter leaves the
// switch without accounts.
func doctorDomain(ctx context.Context, svc *provisioning.Service, domain string) doctor.Check {
	_, err := svc.DomainByName(ctx, provisioning.AdminScope(), domain)
	switch {
	case err == nil:
		return doctor.Check{Name: "domain", Status: doctor.OK, Detail: "switches[].domain " + domain + " is a provisioned domain"}
	case errors.Is(err, provisioning.ErrNotFound):
		return doctor.Check{Name: "domain", Status: doctor.Fail, Detail: "switches[].domain " + domain + " is not a provisioned domain: no account reaches this switch",
			Fix: "set switches[].domain to the SIP domain the accounts are provisioned in (dcp domain/list), or provision it"}
	}
	return doctor.Check{Name: "domain", Status: doctor.Warn, Detail: "reading the domain: " + err.Error(), Fix: "check the store (database.dsn)"}
}
