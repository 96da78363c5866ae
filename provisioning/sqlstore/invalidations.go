package sqlstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/provisioning"
)

// Several daemons (and the command line) may share one PostgreSQL database.
// Each caches token checks and domain lookups (provisioning/invalidation.go)
// and must drop them when another process revokes a token or changes a
// domain or tenant: the Service broadcasts every such change with
// PostgreSQL's NOTIFY and every daemon LISTENs. The channel is named after
// the schema, so that deployments (and parallel tests) sharing a database
// in different schemas do not hear each other.
//
// SQLite has no notifications: it serves one daemon, and a revocation by
// the command line reaches a running daemon within provisioning.CacheTTL.

var (
	_ provisioning.Broadcaster        = (*Store)(nil)
	_ provisioning.InvalidationSource = (*Store)(nil)
)

// channelPrefix starts the NOTIFY channel; current_schema() ends it.
const channelPrefix = "switchboard_provisioning:"

// Broadcast sends inv to every process listening on this database and
// schema (itself included). On SQLite it does nothing.
func (s *Store) Broadcast(ctx context.Context, inv provisioning.Invalidation) error {
	if s.db.Engine != sqldb.Postgres {
		return nil
	}
	if _, err := s.db.ExecContext(ctx, `SELECT pg_notify($1 || current_schema(), $2)`, channelPrefix, inv.String()); err != nil {
		return fmt.Errorf("sqlstore: broadcast invalidation: %w", err)
	}
	return nil
}

// Listen holds one connection of the pool in LISTEN on the schema's
// channel and delivers every invalidation until ctx ends or the connection
// breaks. It calls ready once the LISTEN is in place: nothing sent after
// that is missed while Listen runs. On SQLite it returns
// errors.ErrUnsupported at once.
func (s *Store) Listen(ctx context.Context, ready func(), deliver func(provisioning.Invalidation)) error {
	if s.db.Engine != sqldb.Postgres {
		return errors.ErrUnsupported
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("sqlstore: listen: %w", err)
	}
	defer conn.Close()
	err = conn.Raw(func(driverConn any) error {
		pc := driverConn.(*stdlib.Conn).Conn()
		// The connection is closed when Listen ends, however it ends:
		// WaitForNotification leaves it unusable when ctx is cancelled,
		// and a closed connection is discarded by the pool rather than
		// handed out still listening.
		defer pc.Close(context.WithoutCancel(ctx)) //nolint:errcheck // best effort
		var schema string
		if err := pc.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
			return err
		}
		if _, err := pc.Exec(ctx, "LISTEN "+pgx.Identifier{channelPrefix + schema}.Sanitize()); err != nil {
			return err
		}
		ready()
		for {
			n, err := pc.WaitForNotification(ctx)
			if err != nil {
				return err
			}
			deliver(provisioning.ParseInvalidation(n.Payload))
		}
	})
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("sqlstore: listen: %w", err)
}
