package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
)

// The token commands manage API tokens directly in the store, so the
// first admin token can be made before any API call is possible. They
// take only the configuration that reaches the store.

const tokenCreateAbout = `create makes an API token and prints its secret on standard output, once: only its
SHA-256 is stored. --role has no default, so that an admin token is never made by
accident; tenant-admin and user tokens belong to the tenant given with --tenant.`

func runTokenCreate(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("token create", "--name NAME --role admin|tenant-admin|user [--tenant ID] [flags]", tokenCreateAbout)
	name := fs.String("name", "", "what the token is for (required)")
	role := fs.String("role", "", "admin, tenant-admin or user (required)")
	tenant := fs.Int64("tenant", 0, "`ID` of the tenant of a tenant-admin or user token")
	cf := addConfigFlags(fs, "database.")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	var tid *int64
	switch r := provisioning.Role(*role); {
	case *name == "":
		return usagef(fs.Name(), "--name is required")
	case *role == "":
		return usagef(fs.Name(), "--role is required: admin, tenant-admin or user")
	case r != provisioning.RoleAdmin && r != provisioning.RoleTenantAdmin && r != provisioning.RoleUser:
		return usagef(fs.Name(), "--role must be admin, tenant-admin or user, not %q", *role)
	case r == provisioning.RoleAdmin && *tenant != 0:
		return usagef(fs.Name(), "--tenant must not be given for an admin token (it sees every tenant)")
	case r != provisioning.RoleAdmin && *tenant <= 0:
		return usagef(fs.Name(), "--tenant is required for a %s token", *role)
	case r != provisioning.RoleAdmin:
		tid = tenant
	}
	svc, closeDB, err := openTokenStore(ctx, cf, fs, env, stderr)
	if err != nil {
		return err
	}
	defer closeDB()
	secret, t, err := svc.CreateToken(ctx, *name, provisioning.Role(*role), tid)
	if err != nil {
		return fmt.Errorf("token create: %w", err)
	}
	fmt.Fprintln(stdout, secret)
	fmt.Fprintf(stderr, "created token %d (%s, role %s); it is shown only this once\n", t.ID, t.Name, t.Role)
	return nil
}

func runTokenList(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("token list", "[flags]", "list prints every API token: its ID, name, role, tenant, creation and revocation (never its secret).")
	cf := addConfigFlags(fs, "database.")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	svc, closeDB, err := openTokenStore(ctx, cf, fs, env, stderr)
	if err != nil {
		return err
	}
	defer closeDB()
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
				revoked = t.RevokedAt.Format(timeLayout)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Role, tenant, t.CreatedAt.Format(timeLayout), revoked)
		}
		if len(ts) < provisioning.MaxLimit {
			break
		}
		after = ts[len(ts)-1].ID
	}
	return tw.Flush()
}

const timeLayout = "2006-01-02 15:04:05"

// errAlreadyRevoked is revoking a token that is revoked already: like
// kill on a process that has exited or rm on a file that is gone, the
// command fails (exit status 1) and says so, rather than report a
// revocation it did not make. The token stays revoked since its first
// revocation.
var errAlreadyRevoked = errors.New("already revoked")

const tokenRevokeAbout = `revoke revokes the API token with this ID (see token list): it stops working at once.
Revoking a token that is already revoked, or that does not exist, fails with exit status 1.`

func runTokenRevoke(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("token revoke", "[flags] ID", tokenRevokeAbout)
	cf := addConfigFlags(fs, "database.")
	// The ID may come before the flags, as this command was first
	// documented, or after them, as flag parsing wants.
	var idArg string
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		idArg, args = args[0], args[1:]
	}
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if idArg == "" && fs.NArg() > 0 {
		idArg = fs.Arg(0)
		if err := parseFlags(fs, fs.Args()[1:], stdout); err != nil {
			return err
		}
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if idArg == "" {
		return usagef(fs.Name(), "missing token ID")
	}
	id, err := strconv.ParseInt(idArg, 10, 64)
	if err != nil || id <= 0 {
		return usagef(fs.Name(), "ID must be a positive integer, got %q", idArg)
	}
	svc, closeDB, err := openTokenStore(ctx, cf, fs, env, stderr)
	if err != nil {
		return err
	}
	defer closeDB()
	// The token list is keyed by ID: the page after id-1 starts with id
	// when it exists.
	ts, err := svc.Tokens(ctx, provisioning.Page{After: id - 1, Limit: 1})
	if err != nil {
		return fmt.Errorf("token revoke: %w", err)
	}
	if len(ts) == 1 && ts[0].ID == id && ts[0].RevokedAt != nil {
		return fmt.Errorf("token revoke: token %d (%s): %w at %s", id, ts[0].Name, errAlreadyRevoked, ts[0].RevokedAt.Format(timeLayout))
	}
	if err := svc.RevokeToken(ctx, id); err != nil {
		return fmt.Errorf("token revoke: %w", err)
	}
	fmt.Fprintf(stdout, "token %d revoked\n", id)
	return nil
}

// openTokenStore loads the configuration and opens the store, quietly:
// standard output and standard error are kept for the token and errors.
func openTokenStore(ctx context.Context, cf *configFlags, fs *flag.FlagSet, env []string, stderr io.Writer) (*provisioning.Service, func(), error) {
	db, err := openQuiet(ctx, cf, fs, env, stderr)
	if err != nil {
		return nil, nil, err
	}
	return provisioning.NewService(sqlstore.New(db)), func() { db.Close() }, nil
}
