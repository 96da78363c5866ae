package main

import (
	"context"
	"log/slog"

	"github.com/switchboard-voip/switchboard/internal/genfile"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/switch/asterisk"
)

// startAsteriskVoicemail keeps an Asterisk node's voicemail include
// (voicemail_file: every tenant's boxes for app_voicemail) current and,
// with voicemail_spool, indexes the messages app_voicemail records; with
// fax_dir, it takes the faxes the node's fax boxes received; with
// recordings_dir, the calls the routing recorded.
func startAsteriskVoicemail(sw SwitchConfig, svc *provisioning.Service, log *slog.Logger, run func(name string, fn func(context.Context) error)) {
	ast := sw.Asterisk
	plans := func(ctx context.Context) ([]*provisioning.Plan, error) { return tenantPlans(ctx, svc) }
	if ast.VoicemailFile != "" {
		vc := asterisk.NewVoicemailConf(asterisk.VoicemailConfConfig{
			Node: sw.Name, Path: ast.VoicemailFile, Plans: plans,
			Client: asterisk.NewConfigClient(ast.URL, ast.User, ast.Password, nil),
			Keeper: genfile.Config{Logger: log},
		})
		svc.AddSink(vc)
		run(sw.Name+" voicemail file", vc.Run)
	}
	if ast.VoicemailSpool != "" {
		ix := asterisk.NewVoicemailIndexer(asterisk.VoicemailIndexerConfig{Node: sw.Name, Spool: ast.VoicemailSpool, Plans: plans, Service: svc, Logger: log})
		svc.AddSink(ix)
		run(sw.Name+" voicemail spool", ix.Run)
	}
	if ast.FaxDir != "" {
		fx := asterisk.NewFaxIndexer(asterisk.FaxIndexerConfig{Node: sw.Name, Dir: ast.FaxDir, Service: svc, Logger: log})
		run(sw.Name+" fax dir", fx.Run)
	}
	if ast.RecordingsDir != "" {
		rx := asterisk.NewRecordingIndexer(asterisk.RecordingIndexerConfig{Node: sw.Name, Dir: ast.RecordingsDir, Service: svc, Logger: log})
		run(sw.Name+" recordings dir", rx.Run)
	}
}
