package cdrstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
)

// PutDeadLetters stores dls in one transaction, as given: it sets no ID
// and no time, except that a zero ReceivedAt is stored as now. Each is
// bounded first (cdr.DeadLetter.Bound: an excerpt of Raw, the hash and
// size of the whole), whoever made it, and text is mended as for CDRs
// (invalid UTF-8 and NUL become U+FFFD) so that a garbled record can
// always be kept.
func (s *Store) PutDeadLetters(ctx context.Context, dls []cdr.DeadLetter) error {
	if len(dls) == 0 {
		return nil
	}
	now := time.Now()
	source, reason, raw, sum := make([]string, len(dls)), make([]string, len(dls)), make([]string, len(dls)), make([]string, len(dls))
	size := make([]int64, len(dls))
	received := make([]time.Time, len(dls))
	for i, d := range dls {
		d.Bound()
		source[i], reason[i], raw[i] = cdr.MendText(d.Source), cdr.MendText(d.Reason), cdr.MendText(d.Raw)
		sum[i], size[i] = d.RawSHA256, d.RawSize
		received[i] = d.ReceivedAt
		if received[i].IsZero() {
			received[i] = now
		}
		received[i] = microUTC(received[i])
	}
	if s.db.Engine == sqldb.Postgres {
		_, err := s.db.ExecContext(ctx, `INSERT INTO cdr_dead_letters (source, reason, raw, raw_sha256, raw_size, received_at)
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::timestamptz[])`,
			source, reason, raw, sum, size, received)
		if err != nil {
			return fmt.Errorf("cdr: dead letters: %w", refused(err))
		}
		return nil
	}

	s.wmu.Lock()
	defer s.wmu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("cdr: dead letters: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	const perRow = 6
	const chunk = sqliteMaxParams / perRow
	for start := 0; start < len(dls); start += chunk {
		end := min(start+chunk, len(dls))
		var b strings.Builder
		b.WriteString(`INSERT INTO cdr_dead_letters (source, reason, raw, raw_sha256, raw_size, received_at) VALUES `)
		args := make([]any, 0, (end-start)*perRow)
		for i := start; i < end; i++ {
			if i > start {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?, ?, ?, ?)")
			args = append(args, source[i], reason[i], raw[i], sum[i], size[i], received[i].UnixMicro())
		}
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("cdr: dead letters: %w", refused(err))
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("cdr: dead letters: commit: %w", err)
	}
	return nil
}

// DeadLetters returns the dead letters with an ID above after, oldest
// first, at most limit of them (DefaultLimit for 0, at most MaxLimit).
// Pass the last ID of one page as after to get the next.
func (s *Store) DeadLetters(ctx context.Context, after int64, limit int) ([]cdr.DeadLetter, error) {
	q := s.db.Rebind(fmt.Sprintf(`SELECT id, source, reason, raw, raw_sha256, raw_size, received_at FROM cdr_dead_letters
		WHERE id > ? ORDER BY id LIMIT %d`, (&cdr.Filter{Limit: limit}).PageSize()))
	rows, err := s.db.QueryxContext(ctx, q, after)
	if err != nil {
		return nil, fmt.Errorf("cdr: dead letters: %w", err)
	}
	defer rows.Close()
	out := []cdr.DeadLetter{}
	var row deadLetterRow
	for rows.Next() {
		if err := rows.StructScan(&row); err != nil {
			return nil, fmt.Errorf("cdr: dead letters: %w", err)
		}
		out = append(out, row.deadLetter())
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cdr: dead letters: %w", err)
	}
	return out, nil
}
