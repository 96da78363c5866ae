package freeswitch

import (
	"fmt"
	"path/filepath"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// SoundLayout places a tenant's sounds in the node's sounds_dir as
// FreeSWITCH reads them: t<tenant>/<rate>/s<id>.wav. Asked to play
// t<tenant>/s<id>.wav (SoundPath), mod_sndfile first opens the file in
// the directory named after the call's rate (8000, 16000), then the
// highest rate it finds, so a call plays the file of its own rate
// without resampling (mod_sndfile.c, sndfile_file_open, 1.10.12).
func SoundLayout(s provisioning.Sound, rate int) string {
	return fmt.Sprintf("t%d/%d/s%d.wav", s.TenantID, rate, s.ID)
}

// SoundPath is what the dialplan plays for sound id of tenant.
func SoundPath(dir string, tenantID, id int64) string {
	return filepath.Join(dir, fmt.Sprintf("t%d", tenantID), fmt.Sprintf("s%d.wav", id))
}
