package main

import (
	"context"
	"flag"
	"io"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
)

// openQuiet loads the configuration of a command that only uses the store
// and opens it, logging warnings only.
func openQuiet(ctx context.Context, cf *configFlags, fs *flag.FlagSet, env []string, stderr io.Writer) (*sqldb.DB, error) {
	cfg, err := cf.load(fs, env)
	if err != nil {
		return nil, err
	}
	cfg.Log.Level = "warn"
	return openDB(ctx, cfg, newLogger(cfg.Log, stderr))
}
