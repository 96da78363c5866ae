package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
)

const tokenUsage = `Usage:
  switchboard token create --name NAME --role admin|tenant-admin|user [--tenant ID] [config flags]
  switchboard token list [config flags]
  switchboard token revoke ID [config flags]

create prints the token on standard output, once: it is stored only as a hash.`

// runToken manages API tokens directly in the store, so the first admin
// token can be made before any API call is possible.
func runToken(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, tokenUsage)
		return errors.New("token: missing subcommand")
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet("token "+sub, stderr)
	var (
		name   = fs.String("name", "", "what the token is for (create)")
		role   = fs.String("role", "admin", "admin, tenant-admin or user (create)")
		tenant = fs.Int64("tenant", 0, "tenant ID, required unless the role is admin (create)")
		id     int64
	)
	if sub == "revoke" {
		if len(args) == 0 {
			return errors.New("token revoke: missing token ID")
		}
		var err error
		if id, err = strconv.ParseInt(args[0], 10, 64); err != nil || id <= 0 {
			return fmt.Errorf("token revoke: ID must be a positive integer, got %q", args[0])
		}
		args = args[1:]
	}
	cfg, err := LoadConfig(fs, args, env)
	if err != nil {
		return err
	}
	cfg.Log.Level = "warn" // keep stdout and stderr for the token and errors
	db, err := openDB(ctx, cfg, newLogger(cfg.Log, stderr))
	if err != nil {
		return err
	}
	defer db.Close()
	svc := provisioning.NewService(sqlstore.New(db))

	switch sub {
	case "create":
		var tid *int64
		if *tenant != 0 {
			tid = tenant
		}
		secret, t, err := svc.CreateToken(ctx, *name, provisioning.Role(*role), tid)
		if err != nil {
			return fmt.Errorf("token create: %w", err)
		}
		fmt.Fprintln(stdout, secret)
		fmt.Fprintf(stderr, "created token %d (%s, role %s); it is shown only this once\n", t.ID, t.Name, t.Role)
		return nil
	case "list":
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tROLE\tTENANT\tCREATED\tREVOKED")
		var after int64
		for {
			ts, err := svc.Tokens(ctx, provisioning.Page{After: after, Limit: provisioning.MaxLimit})
			if err != nil {
				return fmt.Errorf("token list: %w", err)
			}
			for _, t := range ts {
				tenant, revoked := "-", "-"
				if t.TenantID != nil {
					tenant = strconv.FormatInt(*t.TenantID, 10)
				}
				if t.RevokedAt != nil {
					revoked = t.RevokedAt.Format("2006-01-02 15:04:05")
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Role, tenant, t.CreatedAt.Format("2006-01-02 15:04:05"), revoked)
			}
			if len(ts) < provisioning.MaxLimit {
				break
			}
			after = ts[len(ts)-1].ID
		}
		return tw.Flush()
	case "revoke":
		if err := svc.RevokeToken(ctx, id); err != nil {
			return fmt.Errorf("token revoke: %w", err)
		}
		fmt.Fprintf(stdout, "token %d revoked\n", id)
		return nil
	default:
		fmt.Fprintln(stderr, tokenUsage)
		return fmt.Errorf("token: unknown subcommand %q", sub)
	}
}
