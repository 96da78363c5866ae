package provisioning_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/switchboard-voip/switchboard/internal/audio"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
)

// BenchmarkSoundUpload uploads a 1-minute 44.1 kHz stereo WAV (10.6 MB,
// what a studio exports) through the Service on SQLite: decode, resample
// to 8 and 16 kHz, store both. Side by side, raw-store stores the same
// two converted files without any conversion, so that the ratio shows
// what the conversion costs on the same database and machine.
func BenchmarkSoundUpload(b *testing.B) {
	ctx := context.Background()
	db, err := sqldb.Open(ctx, "sqlite:"+filepath.Join(b.TempDir(), "b.db"))
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
	wav := stereoMinute(b)
	var converted map[int][]byte
	b.Run("upload", func(b *testing.B) {
		b.SetBytes(int64(len(wav)))
		for i := 0; b.Loop(); i++ {
			s := &provisioning.Sound{TenantID: tn.ID, Name: "u" + strconv.Itoa(i)}
			if err := svc.CreateSound(ctx, provisioning.AdminScope(), s, bytes.NewReader(wav)); err != nil {
				b.Fatal(err)
			}
			if converted == nil {
				converted = map[int][]byte{}
				for _, r := range provisioning.SoundRates {
					_, a, err := svc.SoundAudio(ctx, provisioning.AdminScope(), s.ID, r)
					if err != nil {
						b.Fatal(err)
					}
					converted[r] = a
				}
			}
		}
	})
	b.Run("raw-store", func(b *testing.B) {
		b.SetBytes(int64(len(wav)))
		for i := 0; b.Loop(); i++ {
			s := &provisioning.Sound{TenantID: tn.ID, Name: "r" + strconv.Itoa(i), SourceFormat: "wav", DurationMS: 60000, SHA256: "x"}
			if err := st.CreateSound(ctx, s, converted); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func stereoMinute(b *testing.B) []byte {
	const rate = 44100
	n := rate * 60
	var buf bytes.Buffer
	c := &audio.Clip{Rate: rate, Samples: make([]int16, n)}
	for i := range c.Samples {
		c.Samples[i] = int16(8000*math.Sin(2*math.Pi*440*float64(i)/rate) + 3000*math.Sin(2*math.Pi*1250*float64(i)/rate))
	}
	if err := c.WriteWAV(&buf); err != nil {
		b.Fatal(err)
	}
	// Mono to stereo: the same sample on both channels.
	mono := buf.Bytes()[44:]
	out := make([]byte, 44, 44+2*len(mono))
	copy(out, buf.Bytes()[:44])
	for i := 0; i+1 < len(mono); i += 2 {
		out = append(out, mono[i], mono[i+1], mono[i], mono[i+1])
	}
	le := func(off int, v uint32, size int) {
		for k := range size {
			out[off+k] = byte(v >> (8 * k))
		}
	}
	le(4, uint32(len(out)-8), 4)
	le(22, 2, 2)      // channels
	le(28, rate*4, 4) // byte rate
	le(32, 4, 2)      // block align
	le(40, uint32(len(out)-44), 4)
	return out
}
