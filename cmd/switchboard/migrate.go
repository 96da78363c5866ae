package main

import (
	"context"
	"fmt"
	"io"
)

// runMigrate applies the migrations and exits, for deployments that run
// schema changes as a separate step (serve applies them too).
func runMigrate(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	cfg, err := LoadConfig(newFlagSet("migrate", stderr), args, env)
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
