package provisioning_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
)

// BenchmarkRecordingDeposit deposits 1-minute call recordings (8 kHz mono
// 16-bit WAV, what both switches write) through the Service on SQLite and
// reports the disk used per minute of recording: the database file's
// growth (WAL checkpointed) over the minutes stored, against the WAV's
// own 960,044 bytes. Side by side, raw-store writes the same rows
// straight to the store (no WAV probe, no policy lookup), so the ratio of
// the two times is what the Service adds.
func BenchmarkRecordingDeposit(b *testing.B) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "b.db")
	db, err := sqldb.Open(ctx, "sqlite:"+path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := sqlstore.Migrate(ctx, db); err != nil {
		b.Fatal(err)
	}
	st := sqlstore.New(db)
	svc := provisioning.NewService(st, provisioning.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	tn := &provisioning.Tenant{Name: "bench"}
	if err := svc.CreateTenant(ctx, provisioning.AdminScope(), tn); err != nil {
		b.Fatal(err)
	}
	wav := toneWAV(b, 60)
	size := func() int64 {
		if _, err := db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			b.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			b.Fatal(err)
		}
		return fi.Size()
	}
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	n := 0
	b.Run("deposit", func(b *testing.B) {
		b.SetBytes(int64(len(wav)))
		before, minutes := size(), 0
		for b.Loop() {
			n++
			r := &provisioning.Recording{TenantID: tn.ID, Switch: "ast1", SwitchRef: "d" + strconv.Itoa(n), StartedAt: start}
			if _, err := svc.DepositRecording(ctx, r, wav); err != nil {
				b.Fatal(err)
			}
			minutes++
		}
		b.ReportMetric(float64(size()-before)/float64(minutes), "disk-bytes/min")
	})
	b.Run("raw-store", func(b *testing.B) {
		b.SetBytes(int64(len(wav)))
		for b.Loop() {
			n++
			r := &provisioning.Recording{TenantID: tn.ID, Switch: "ast1", SwitchRef: "r" + strconv.Itoa(n), StartedAt: start,
				DurationMS: 60000, Bytes: int64(len(wav)), ExpiresAt: start.AddDate(0, 0, 90)}
			if _, err := st.CreateRecording(ctx, r, wav); err != nil {
				b.Fatal(err)
			}
		}
	})
}
