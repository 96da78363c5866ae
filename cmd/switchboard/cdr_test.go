package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/switchboard-voip/switchboard/cdr/cdrstore"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
)

func runCmd(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := Run(context.Background(), args, nil, &out, &errb)
	return out.String(), errb.String(), err
}

// Importing the recorded switch CDR files stores each leg once, a second
// import adds nothing, malformed rows become dead letters, and export
// writes what is stored.
func TestCDRImportExport(t *testing.T) {
	ast := "../../switch/asterisk/testdata/cdr/"
	fsw, err := filepath.Glob("../../switch/freeswitch/esltest/testdata/call-*-leg.json")
	if err != nil || len(fsw) != 9 {
		t.Fatalf("FreeSWITCH fixtures: %v %v", fsw, err)
	}
	// Files mod_json_cdr wrote with encode=true and prefix-a-leg=true
	// (URL-encoded JSON, a_<uuid>.cdr.json).
	errLogFiles := []string{
		"../../switch/freeswitch/testdata/err-log-dir/95eed0be-5810-42a0-b2f1-34a90efee886.cdr.json",
		"../../switch/freeswitch/testdata/err-log-dir/a_903d29e8-60b1-4bde-8262-3ec3d79dc055.cdr.json",
	}
	for engine, dsn := range sqldbtest.DSNs(t) {
		t.Run(string(engine), func(t *testing.T) {
			db := []string{"--database-dsn", dsn}
			// A provisioned gateway named "gateway" makes call 7 of the
			// recording (PJSIP/555@gateway) an outbound call through it.
			if err := provisionGateway(dsn, "gateway"); err != nil {
				t.Fatal(err)
			}
			steps := []struct {
				name        string
				args        []string
				wantSummary string
				wantErr     error // the rows that were valid are stored all the same
			}{
				// master.csv has 9 rows for 7 calls (busy and no-answer write two rows each).
				{"asterisk master.csv", append([]string{"cdr", "import", "--switch", "ast1", "--domain", "pbx.example.com"}, append(db, ast+"master.csv")...),
					"7 CDRs read, 7 new, 0 already stored, 0 rejected", nil},
				{"same calls from cdr_custom JSON lines", append([]string{"cdr", "import", "--switch", "ast1", "--domain", "pbx.example.com"}, append(db, ast+"cdr-custom-master.jsonl")...),
					"7 CDRs read, 0 new, 7 already stored, 0 rejected", nil},
				{"freeswitch json_cdr files", append(append([]string{"cdr", "import", "--switch", "fs1"}, db...), fsw...),
					"9 CDRs read, 9 new, 0 already stored, 0 rejected", nil},
				{"freeswitch again", append(append([]string{"cdr", "import", "--switch", "fs1"}, db...), fsw...),
					"9 CDRs read, 0 new, 9 already stored, 0 rejected", nil},
				{"freeswitch err-log-dir files, encode=true", append(append([]string{"cdr", "import", "--switch", "fs1"}, db...), errLogFiles...),
					"2 CDRs read, 2 new, 0 already stored, 0 rejected", nil},
				{"malformed rows", append([]string{"cdr", "import", "--switch", "ast2"}, append(db, ast+"malformed.csv")...),
					"4 CDRs read, 4 new, 0 already stored, 4 rejected", errRejected},
			}
			for _, st := range steps {
				_, stderr, err := runCmd(t, st.args...)
				if !errors.Is(err, st.wantErr) || (err == nil) != (st.wantErr == nil) {
					t.Fatalf("%s: err = %v, want %v\n%s", st.name, err, st.wantErr, stderr)
				}
				if !strings.Contains(stderr, st.wantSummary) {
					t.Errorf("%s: summary %q, want %q", st.name, strings.TrimSpace(stderr), st.wantSummary)
				}
			}

			sdb, err := sqldb.Open(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer sdb.Close()
			dls, err := cdrstore.NewStore(sdb).DeadLetters(context.Background(), 0, 100)
			if err != nil || len(dls) != 4 {
				t.Fatalf("dead letters = %d, %v; want the 4 malformed rows", len(dls), err)
			}
			for _, dl := range dls {
				if !strings.HasPrefix(dl.Source, "import malformed.csv:") || dl.Reason == "" || dl.Raw == "" {
					t.Errorf("dead letter without source line, reason or raw: %+v", dl)
				}
			}

			out, _, err := runCmd(t, append([]string{"cdr", "export", "--switch", "ast1", "--gateway", "gateway", "--direction", "outbound"}, db...)...)
			if err != nil {
				t.Fatal(err)
			}
			if rows, _ := csv.NewReader(strings.NewReader(out)).ReadAll(); len(rows) != 2 || !strings.Contains(strings.Join(rows[1], ","), "1795610153.9") {
				t.Errorf("outbound calls through the provisioned gateway = %v, want call 1795610153.9", rows)
			}
			out, _, err = runCmd(t, append([]string{"cdr", "export", "--switch", "ast1", "--disposition", "busy"}, db...)...)
			if err != nil {
				t.Fatal(err)
			}
			rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 2 || rows[0][0] != "id" {
				t.Fatalf("export of ast1's busy calls = %v, want the header and the one busy call", rows)
			}
			col := map[string]int{}
			for i, h := range rows[0] {
				col[h] = i
			}
			if got := rows[1][col["call_id"]]; got != "1795610130.4" {
				t.Errorf("busy call exported as %s", got)
			}
		})
	}
}

func provisionGateway(dsn, name string) error {
	ctx := context.Background()
	db, err := sqldb.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := migrateAll(ctx, db); err != nil {
		return err
	}
	svc := provisioning.NewService(sqlstore.New(db))
	return svc.CreateGateway(ctx, provisioning.AdminScope(), &provisioning.Gateway{Name: name, Host: "127.0.0.1", Port: 5090})
}

// Each invalid cdr command line is refused with a message naming what is
// wrong, and with exit status 2 when the command line is at fault (then
// nothing is opened: the database file is not even created).
func TestCDRCommandErrors(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.csv")
	if err := os.WriteFile(garbage, []byte("this is not\na CDR file\n\x00\xff\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args     []string
		want     string
		wantCode int
	}{
		{[]string{"cdr", "frob"}, "unknown subcommand", 2},
		{[]string{"cdr", "import", "x.csv"}, "--switch is required", 2},
		{[]string{"cdr", "import", "--switch", "a"}, "at least one file", 2},
		{[]string{"cdr", "import", "--switch", "a", "--format", "xml", "f"}, "--format", 2},
		{[]string{"cdr", "import", "--switch", "a", "--timezone", "Mars/Olympus", "f"}, "--timezone", 2},
		{[]string{"cdr", "import", "--switch", "a", "/nonexistent.csv"}, "no such file", 1},
		{[]string{"cdr", "import", "--switch", "a", garbage}, "rows rejected as dead letters", 1},
		{[]string{"cdr", "export", "--from", "yesterday"}, "--from", 2},
		{[]string{"cdr", "export", "--from", "2026-02-01T00:00:00Z", "--to", "2026-01-01T00:00:00Z"}, "--to (2026-01-01T00:00:00Z) must be after --from", 2},
		{[]string{"cdr", "export", "--from", "2026-01-01T00:00:00Z", "--to", "2026-01-01T00:00:00Z"}, "must be after --from", 2},
		{[]string{"cdr", "export", "--disposition", "maybe"}, "--disposition", 2},
		{[]string{"cdr", "export", "--direction", "sideways"}, "--direction", 2},
		{[]string{"cdr", "export", "--min-billsec", "-1"}, "--min-billsec", 2},
		{[]string{"cdr", "export", "stray"}, "unexpected argument", 2},
	}
	for _, tc := range tests {
		db := filepath.Join(t.TempDir(), "x.db")
		// The database flag goes before the files: flags end at the first.
		args := append(append(slices.Clone(tc.args[:2]), "--database-dsn", "sqlite:"+db), tc.args[2:]...)
		_, _, err := runCmd(t, args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want one mentioning %q", tc.args, err, tc.want)
		}
		if code := exitCode(err, io.Discard); code != tc.wantCode {
			t.Errorf("%v: exit status %d, want %d", tc.args, code, tc.wantCode)
		}
		if _, statErr := os.Stat(db); tc.wantCode == 2 && statErr == nil {
			t.Errorf("%v: a usage error opened the database", tc.args)
		}
	}
}
