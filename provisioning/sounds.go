package provisioning

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/switchboard-voip/switchboard/internal/audio"
)

// Sound is a tenant's audio file (an IVR greeting, a voicemail greeting,
// music): what was uploaded, converted once to what the switches play.
// The converted audio is kept in the store beside the row, so every
// daemon sharing the database serves the same files.
type Sound struct {
	ID       int64  `json:"id" db:"id"`
	TenantID int64  `json:"tenant_id" db:"tenant_id"`
	Name     string `json:"name" db:"name"`
	// SourceFormat is what was uploaded: wav or mp3.
	SourceFormat string `json:"source_format" db:"source_format"`
	SourceBytes  int64  `json:"source_bytes" db:"source_bytes"`
	// DurationMS is the converted audio's length.
	DurationMS int64 `json:"duration_ms" db:"duration_ms"`
	// SHA256 identifies the converted audio: it changes with every new
	// upload, so the switches' HTTP caches never play a stale file.
	SHA256    string    `json:"sha256" db:"sha256"`
	CreatedAt time.Time `json:"created_at" db:"created_at"`
	UpdatedAt time.Time `json:"updated_at" db:"updated_at"`
}

func (s *Sound) ownerTenant() (int64, bool) { return s.TenantID, true }

// SoundRates are the sample rates every sound is kept at: 8 kHz for
// G.711 calls, 16 kHz for wideband ones (both switches play the file
// matching the call's rate when it exists, else resample).
var SoundRates = []int{8000, 16000}

// SoundLimits bound an upload: a bigger or longer file is refused (413 /
// 422 naming the field) before anything is written.
var SoundLimits = audio.Limits{MaxBytes: 20 << 20, MaxDuration: 10 * time.Minute}

// SoundFilter selects sounds.
type SoundFilter struct {
	Subtree  string
	TenantID int64
	Page
}

// SoundStore is what sound files need of the Store. CreateSound and
// ReplaceSoundAudio write the row and its audio (one WAV per rate) in one
// transaction; DeleteSound is refused while a routing object points at
// the sound.
type SoundStore interface {
	CreateSound(ctx context.Context, s *Sound, wav map[int][]byte) error
	ReplaceSoundAudio(ctx context.Context, s *Sound, wav map[int][]byte) error
	Sound(ctx context.Context, id int64) (*Sound, error)
	Sounds(ctx context.Context, f SoundFilter) ([]Sound, error)
	SoundAudio(ctx context.Context, id int64, rate int) ([]byte, error)
	DeleteSound(ctx context.Context, id int64) error
}

var errNoSoundStore = errors.New("provisioning: the store keeps no sounds")

func (s *Service) soundStore() (SoundStore, error) {
	ss, ok := s.store.(SoundStore)
	if !ok {
		return nil, errNoSoundStore
	}
	return ss, nil
}

// convertSound decodes an upload and renders it at every rate in
// SoundRates. Bad input is an InvalidError on field (or a TooLargeError)
// naming what is wrong; silence is refused too, since a greeting nobody
// hears is always a mistake.
func convertSound(field string, r io.Reader) (format string, size int64, durMS int64, sum string, wav map[int][]byte, err error) {
	cr := &countingReader{r: r}
	clip, f, err := audio.Decode(cr, SoundLimits)
	var tle *TooLargeError
	switch {
	case errors.As(err, &tle): // the API's body limit, reached first
		return "", 0, 0, "", nil, tle
	case errors.Is(err, audio.ErrTooLarge):
		return "", 0, 0, "", nil, TooLarge(field, "is larger than %d MiB", SoundLimits.MaxBytes>>20)
	case errors.Is(err, audio.ErrTooLong):
		return "", 0, 0, "", nil, Invalid(field, "is longer than %s", SoundLimits.MaxDuration)
	case errors.Is(err, audio.ErrFormat):
		return "", 0, 0, "", nil, Invalid(field, "must be a WAV or MP3 file: %v", err)
	case err != nil:
		return "", 0, 0, "", nil, fmt.Errorf("provisioning: read sound: %w", err)
	}
	if len(clip.Samples) == 0 || clip.Silent() {
		return "", 0, 0, "", nil, Invalid(field, "is silent")
	}
	wav = map[int][]byte{}
	h := sha256.New()
	for _, rate := range SoundRates {
		var b byteBuffer
		c := clip.Resample(rate)
		if err := c.WriteWAV(&b); err != nil {
			return "", 0, 0, "", nil, fmt.Errorf("provisioning: convert sound: %w", err)
		}
		wav[rate] = b
		h.Write(b)
		durMS = c.Duration().Milliseconds()
	}
	return string(f), cr.n, durMS, hex.EncodeToString(h.Sum(nil)), wav, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

type byteBuffer []byte

func (b *byteBuffer) Write(p []byte) (int, error) { *b = append(*b, p...); return len(p), nil }

// CreateSound converts the upload r and stores it as sound s of
// s.TenantID (a name unique in the tenant).
func (s *Service) CreateSound(ctx context.Context, sc Scope, snd *Sound, r io.Reader) error {
	if err := requireWrite(sc); err != nil {
		return err
	}
	ss, err := s.soundStore()
	if err != nil {
		return err
	}
	if err := checkText("name", snd.Name, MaxNameLen, true); err != nil {
		return err
	}
	if _, err := s.tenantInScope(ctx, sc, snd.TenantID); err != nil {
		if errors.Is(err, ErrNotFound) {
			return &RefError{Field: "tenant_id", NotFoundError: &NotFoundError{Kind: "tenant", Key: fmt.Sprint(snd.TenantID)}}
		}
		return err
	}
	var wav map[int][]byte
	snd.SourceFormat, snd.SourceBytes, snd.DurationMS, snd.SHA256, wav, err = convertSound("file", r)
	if err != nil {
		return err
	}
	snd.ID = 0
	if err := ss.CreateSound(ctx, snd, wav); err != nil {
		return err
	}
	s.notify(ctx, Change{Op: OpUpsert, Sound: clone(snd)})
	return nil
}

func clone[T any](v *T) *T { c := *v; return &c }

// ReplaceSound puts a new upload in place of sound id's audio, keeping
// its id and name (the objects that play it play the new file).
func (s *Service) ReplaceSound(ctx context.Context, sc Scope, id int64, r io.Reader) (*Sound, error) {
	if err := requireWrite(sc); err != nil {
		return nil, err
	}
	snd, err := s.Sound(ctx, sc, id)
	if err != nil {
		return nil, err
	}
	ss, err := s.soundStore()
	if err != nil {
		return nil, err
	}
	var wav map[int][]byte
	snd.SourceFormat, snd.SourceBytes, snd.DurationMS, snd.SHA256, wav, err = convertSound("file", r)
	if err != nil {
		return nil, err
	}
	if err := ss.ReplaceSoundAudio(ctx, snd, wav); err != nil {
		return nil, err
	}
	s.notify(ctx, Change{Op: OpUpsert, Sound: clone(snd)})
	return snd, nil
}

// Sound returns sound id if the scope sees it.
func (s *Service) Sound(ctx context.Context, sc Scope, id int64) (*Sound, error) {
	ss, err := s.soundStore()
	if err != nil {
		return nil, err
	}
	snd, err := ss.Sound(ctx, id)
	return inScope(ctx, s, sc, "sound", snd, err, id)
}

// Sounds lists the sounds in scope.
func (s *Service) Sounds(ctx context.Context, sc Scope, f SoundFilter) ([]Sound, error) {
	ss, err := s.soundStore()
	if err != nil {
		return nil, err
	}
	f.Subtree, f.Page = sc.subtree(), f.Page.Normalize()
	return ss.Sounds(ctx, f)
}

// AllSounds lists every sound of every tenant, for the switches'
// sound directories.
func (s *Service) AllSounds(ctx context.Context) ([]Sound, error) {
	var out []Sound
	for f := (SoundFilter{Page: Page{Limit: MaxLimit}}); ; {
		page, err := s.Sounds(ctx, AdminScope(), f)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if len(page) < f.Limit {
			return out, nil
		}
		f.After = page[len(page)-1].ID
	}
}

// SoundAudio returns sound id's WAV at rate (one of SoundRates).
func (s *Service) SoundAudio(ctx context.Context, sc Scope, id int64, rate int) (*Sound, []byte, error) {
	snd, err := s.Sound(ctx, sc, id)
	if err != nil {
		return nil, nil, err
	}
	if !validRate(rate) {
		return nil, nil, Invalid("rate", "must be one of %v", SoundRates)
	}
	ss, err := s.soundStore()
	if err != nil {
		return nil, nil, err
	}
	b, err := ss.SoundAudio(ctx, id, rate)
	return snd, b, err
}

func validRate(rate int) bool {
	for _, r := range SoundRates {
		if r == rate {
			return true
		}
	}
	return false
}

// DeleteSound deletes sound id and its audio, refused while anything
// plays it.
func (s *Service) DeleteSound(ctx context.Context, sc Scope, id int64) error {
	if err := requireWrite(sc); err != nil {
		return err
	}
	snd, err := s.Sound(ctx, sc, id)
	if err != nil {
		return err
	}
	ss, err := s.soundStore()
	if err != nil {
		return err
	}
	if err := ss.DeleteSound(ctx, id); err != nil {
		return err
	}
	s.notify(ctx, Change{Op: OpDelete, Sound: snd})
	return nil
}
