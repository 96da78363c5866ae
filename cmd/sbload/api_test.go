package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

// sbload api leaves nothing in the temp directory: not the SQLite file,
// not its -wal and -shm files, whether the run succeeds or fails.
func TestAPILoadCleansUp(t *testing.T) {
	small := []string{"-tenants", "2", "-accounts", "20", "-registrations", "20", "-concurrency", "2", "-duration", "100ms", "-postgres", ""}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		wantErr bool
	}{
		{"a whole run", context.Background(), false},
		{"a run that fails", cancelled, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp)
			var out bytes.Buffer
			err := runAPI(tc.ctx, small, &out)
			if (err != nil) != tc.wantErr {
				t.Fatalf("runAPI: err = %v, want error %v", err, tc.wantErr)
			}
			if !tc.wantErr && strings.Count(out.String(), "sqlite") != 3 {
				t.Errorf("want a line per scenario on SQLite:\n%s", out.String())
			}
			left, err := os.ReadDir(tmp)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range left {
				t.Errorf("left behind in the temp directory: %s", e.Name())
			}
		})
	}
}
