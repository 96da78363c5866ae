package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/audio"
)

// toneWAV is secs seconds of a 440 Hz tone, 16-bit mono PCM at rate.
func toneWAV(rate int, secs float64) []byte {
	c := &audio.Clip{Rate: rate, Samples: make([]int16, int(float64(rate)*secs))}
	for i := range c.Samples {
		c.Samples[i] = int16(10000 * math.Sin(2*math.Pi*440*float64(i)/float64(rate)))
	}
	var b bytes.Buffer
	_ = c.WriteWAV(&b)
	return b.Bytes()
}

// Nodes with sounds_dir: a sound uploaded through the API appears in
// each node's directory in that switch's layout, at 8 and 16 kHz (the
// rate in the WAV header), and goes with its sound.
func TestServeKeepsSoundsDirs(t *testing.T) {
	fsDir, astDir := t.TempDir(), t.TempDir()
	n := startFSNodeWith(t, "esl-S3cret-fs1", "    sounds_dir: "+fsDir+"\n")
	_, astBase, astToken, _, _ := startDialplanDaemon(t, "    sounds_dir: "+astDir+"\n")
	for _, node := range []struct {
		name, base, token, dir string
		files                  func(tenant, id any) map[string]uint32 // relative path: rate
	}{
		{"freeswitch", n.base, n.token, fsDir, func(tn, id any) map[string]uint32 {
			return map[string]uint32{fmt.Sprintf("t%v/8000/s%v.wav", tn, id): 8000, fmt.Sprintf("t%v/16000/s%v.wav", tn, id): 16000}
		}},
		{"asterisk", astBase, astToken, astDir, func(tn, id any) map[string]uint32 {
			return map[string]uint32{fmt.Sprintf("t%v/s%v.wav", tn, id): 8000, fmt.Sprintf("t%v/s%v.wav16", tn, id): 16000}
		}},
	} {
		t.Run(node.name, func(t *testing.T) {
			code, m := do(t, "POST", node.base+"/api/v1/tenants", node.token, `{"name":"Acme"}`)
			if code != http.StatusCreated {
				t.Fatalf("tenant: %d %v", code, m)
			}
			tenant := m["id"]
			req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/v1/sounds?tenant_id=%v&name=welcome", node.base, tenant), bytes.NewReader(toneWAV(44100, 1.5)))
			req.Header.Set("Authorization", "Bearer "+node.token)
			req.Header.Set("Content-Type", "audio/wav")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("upload: %d %s", resp.StatusCode, body)
			}
			var snd map[string]any
			_ = json.Unmarshal(body, &snd)
			files := node.files(tenant, snd["id"])
			within(t, 3*time.Second, "the sound's files", func() bool {
				for rel, rate := range files {
					b, err := os.ReadFile(filepath.Join(node.dir, rel))
					if err != nil || len(b) < 44 || binary.LittleEndian.Uint32(b[24:28]) != rate || len(b) != 44+int(rate)*3 {
						return false
					}
				}
				return true
			})
			if code, m := do(t, "DELETE", fmt.Sprintf("%s/api/v1/sounds/%v", node.base, snd["id"]), node.token, ""); code != http.StatusNoContent {
				t.Fatalf("delete: %d %v", code, m)
			}
			within(t, 3*time.Second, "the files gone", func() bool {
				for rel := range files {
					if _, err := os.Stat(filepath.Join(node.dir, rel)); err == nil {
						return false
					}
				}
				return true
			})
		})
	}
}
