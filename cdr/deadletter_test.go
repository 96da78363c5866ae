package cdr_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/switchboard-voip/switchboard/cdr"
)

// A 1 MiB garbage body rejected by a source (a json_cdr POST) reaches the
// writer as an excerpt within the bound, with the hash and size of the
// whole: the queue and the spool do not carry it whole either.
func TestRejectBoundsDeadLetter(t *testing.T) {
	mem := newMemStore()
	p := startPipeline(t, mem, cdr.PipelineConfig{})
	garbage := strings.Repeat("\x00garbage", 1<<17) // 1 MiB
	if err := p.Reject(context.Background(), cdr.DeadLetter{Source: "freeswitch:fs1 json_cdr", Reason: "not JSON", Raw: garbage}); err != nil {
		t.Fatal(err)
	}
	dls := mem.deadLetters()
	sum := sha256.Sum256([]byte(garbage))
	if len(dls) != 1 || len(dls[0].Raw) > cdr.MaxDeadLetterExcerpt+3*cdr.MaxDeadLetterExcerpt/8 || // NULs mended to U+FFFD
		dls[0].RawSize != 1<<20 || dls[0].RawSHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("dead letter of %d raw bytes, size %d, sha256 %s", len(dls[0].Raw), dls[0].RawSize, dls[0].RawSHA256)
	}
}
