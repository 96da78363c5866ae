package asterisk

import (
	"fmt"
	"path/filepath"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// SoundLayout places a tenant's sounds in the node's sounds_dir as
// Asterisk reads them: t<tenant>/s<id>.wav at 8 kHz and .wav16 at 16 kHz
// (format_wav takes a .wav as 8 kHz signed linear and a .wav16 as 16
// kHz), so that Playback of the name without extension (SoundPath) picks
// the file nearest the call's codec and transcodes the least.
func SoundLayout(s provisioning.Sound, rate int) string {
	switch rate {
	case 8000:
		return fmt.Sprintf("t%d/s%d.wav", s.TenantID, s.ID)
	case 16000:
		return fmt.Sprintf("t%d/s%d.wav16", s.TenantID, s.ID)
	}
	return ""
}

// SoundPath is what the dialplan plays for sound id of tenant: the path
// without extension.
func SoundPath(dir string, tenantID, id int64) string {
	return filepath.Join(dir, fmt.Sprintf("t%d", tenantID), fmt.Sprintf("s%d", id))
}
