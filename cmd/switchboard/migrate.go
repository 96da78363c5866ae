package main

import (
	"context"
	"fmt"
	"io"
)

// runMigrate applies the migrations and exits, for deployments that run
// schema changes as a separate step (serve applies them too).
func runMigrate(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate", "[flags]", "migrate applies the database migrations and exits (serve applies them too).")
	cf := addConfigFlags(fs, "database.", "log.")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	cfg, err := cf.load(fs, env)
	if err != nil {
		return err
	}
	db, err := openDB(ctx, cfg, newLogger(cfg.Log, stderr))
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintln(stdout, "migrations applied")
	return nil
}
