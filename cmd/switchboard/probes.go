package main

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/api"
	"github.com/switchboard-voip/switchboard/sip"
	"github.com/switchboard-voip/switchboard/switch/presence"
)

// startProbes builds the SIP prober when sip.enabled and runs it in the
// sources group: the prober itself, its presence feed (gateway and switch
// results appear in the live view as switch "sip") and the sync that
// keeps its targets current (sip.TargetSync). It returns what the APIs
// read, nil when probing is disabled.
func startProbes(cfg Config, svc *provisioning.Service, view *presence.View, reg prometheus.Registerer, log *slog.Logger,
	run func(name string, fn func(context.Context) error)) (api.Probes, error) {
	if !cfg.SIP.Enabled {
		return nil, nil
	}
	p, err := sip.NewProber(sip.Config{
		Interval:     cfg.SIP.Interval,
		Timeout:      cfg.SIP.Timeout,
		Misses:       cfg.SIP.Misses,
		LagThreshold: cfg.SIP.LagThreshold,
		ListenAddr:   cfg.SIP.Listen,
		UserAgent:    "Switchboard/" + version,
		Logger:       log, // the prober adds component=sip itself, and logs status changes
	})
	if err != nil {
		return nil, fmt.Errorf("sip: %w", err)
	}
	if err := p.RegisterMetrics(reg); err != nil {
		return nil, fmt.Errorf("sip: metrics: %w", err)
	}
	sc := sip.SyncConfig{QualifyDomains: cfg.SIP.QualifyDomains, QualifyInterval: cfg.SIP.QualifyInterval, Logger: log.With("component", "sip")}
	for _, sw := range cfg.Switches {
		sc.Switches = append(sc.Switches, sip.SwitchProbe{Name: sw.Name, URI: sw.SIPURI,
			RegisterCheck: sw.RegisterCheck, RegisterCheckInterval: sw.RegisterCheckInterval})
	}
	targets := sip.NewTargetSync(sc, p, svc, view)
	svc.AddSink(targets)
	run("sip prober", p.Run)
	run("sip presence", func(ctx context.Context) error { return p.WatchPresence(ctx, view.Feed(api.ProbeFeed)) })
	run("sip targets", targets.Run)
	log.Info("sip probing enabled", "component", "sip", "interval", cfg.SIP.Interval, "misses", cfg.SIP.Misses,
		"qualify_domains", cfg.SIP.QualifyDomains, "switches", targets.SwitchTargets())
	return probeResults{prober: p, checks: targets}, nil
}

// probeResults adapts the prober's results and the sync's register checks
// to api.Probes, the shape the dialects read.
type probeResults struct {
	prober interface {
		Results() []sip.Result
		Result(kind sip.Kind, name string) (sip.Result, bool)
	}
	checks interface{ RegisterChecks() []sip.CheckState }
}

// ProbeResults is api.Probes: the prober's results and the register
// checks, sorted by kind then name.
func (a probeResults) ProbeResults() []api.ProbeResult {
	results := a.prober.Results()
	checks := a.checks.RegisterChecks()
	out := make([]api.ProbeResult, 0, len(results)+len(checks))
	for i := range results {
		out = append(out, probeResult(&results[i]))
	}
	for _, c := range checks {
		out = append(out, checkResult(c))
	}
	slices.SortFunc(out, func(a, b api.ProbeResult) int {
		return cmp.Or(strings.Compare(string(a.Kind), string(b.Kind)), strings.Compare(a.Name, b.Name))
	})
	return out
}

// ProbeResult is api.Probes: one target's result.
func (a probeResults) ProbeResult(kind api.ProbeKind, name string) (api.ProbeResult, bool) {
	if kind == api.ProbeRegisterCheck {
		for _, c := range a.checks.RegisterChecks() {
			if c.Name == name {
				return checkResult(c), true
			}
		}
		return api.ProbeResult{}, false
	}
	r, ok := a.prober.Result(sip.Kind(kind), name)
	if !ok {
		return api.ProbeResult{}, false
	}
	return probeResult(&r), true
}

func probeResult(r *sip.Result) api.ProbeResult {
	return api.ProbeResult{
		Kind: api.ProbeKind(r.Kind), Name: r.Name, URI: r.URI, Address: r.Addr, Transport: string(r.Transport),
		Domain: r.Domain, TenantID: r.TenantID, Status: string(r.Status), Code: r.Code, Reason: r.Reason,
		RTT: r.RTT, Misses: r.Misses, LastProbe: r.LastProbe, LastChange: r.LastChange,
	}
}

// checkResult is a register check as the APIs show it: unknown, with the
// reason, until it has run; then ok or failed with the prober's result.
func checkResult(c sip.CheckState) api.ProbeResult {
	pr := api.ProbeResult{Kind: api.ProbeRegisterCheck, Name: c.Name, URI: c.Registrar, Transport: string(c.Transport),
		Domain: c.Domain, Status: api.ProbeUnknown, Reason: c.Missing}
	if r := c.Result; r != nil {
		pr.Status, pr.Code, pr.Reason, pr.Duration, pr.Failures, pr.LastProbe = api.ProbeFailed, r.Code, r.Reason, r.Duration, r.Failures, r.At
		if r.OK {
			pr.Status = api.ProbeOK
		}
	}
	return pr
}
