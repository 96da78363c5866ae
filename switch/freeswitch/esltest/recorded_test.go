package esltest

import (
	"crypto/sha256"
	"io/fs"
	"os"
	"path"
	"strings"
	"testing"
)

// TestRecordingsStoredOnce fails when a file under a testdata directory of
// switch/ is stored twice: same name, same bytes. Recordings live once, in
// the fake that serves them (esltest, aritest), and the adapters' tests
// read them through its Recorded. Different recordings that happen to have the
// same bytes (the empty answers of "show calls as json" and "show
// channels as json") are not copies and are allowed.
func TestRecordingsStoredOnce(t *testing.T) {
	root := os.DirFS("../..")   // switch/
	seen := map[string]string{} // name + hash → first path
	err := fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.Contains("/"+p, "/testdata/") {
			return err
		}
		b, err := fs.ReadFile(root, p)
		if err != nil {
			return err
		}
		key := path.Base(p) + "\x00" + hash(b)
		if first, ok := seen[key]; ok {
			t.Errorf("switch/%s is a copy of switch/%s: read it through esltest.Recorded or aritest.Recorded", p, first)
		}
		seen[key] = p
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) < 50 {
		t.Fatalf("walked %d testdata files under switch/, want the recordings", len(seen))
	}
}

func hash(b []byte) string {
	h := sha256.Sum256(b)
	return string(h[:])
}
