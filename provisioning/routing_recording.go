package provisioning

// Call recording: answered calls are recorded by the switch that carries
// them (Asterisk MixMonitor, FreeSWITCH record_session) when the DID they
// came in on, the extension they reach or the phone's extension that
// placed them says so (DID.Record, Extension.Record), or when the
// tenant's recording policy records every call. The adapter hands each
// finished file to DepositRecording (recordings.go), which keeps it,
// links it to the call's CDRs and deletes it when the policy's retention
// ends.
const KindRecordingPolicy RoutingKind = "recording_policy"

// recordingPolicyKey makes the policy unique per tenant.
const recordingPolicyKey = "recording_policy"

// Recording retention limits, in days.
const (
	MinRecordingRetentionDays = 1
	MaxRecordingRetentionDays = 3650
)

// RecordingPolicy is a tenant's recording policy: at most one per tenant.
// All records every answered call of the tenant (calls to its DIDs and
// extensions and calls its phones place). RetentionDays is how long a
// recording is kept; 0 keeps it for the daemon's default
// (recordings.retention_days in the configuration).
type RecordingPolicy struct {
	RoutingMeta
	All           bool `json:"all"`
	RetentionDays int  `json:"retention_days"`
}

func (p *RecordingPolicy) kind() RoutingKind { return KindRecordingPolicy }
func (p *RecordingPolicy) key() string       { return recordingPolicyKey }
func (p *RecordingPolicy) label() string     { return "recording policy" }

func (p *RecordingPolicy) validate() error {
	if p.RetentionDays != 0 && (p.RetentionDays < MinRecordingRetentionDays || p.RetentionDays > MaxRecordingRetentionDays) {
		return Invalid("retention_days", "must be from %d to %d days (0: the daemon's default)", MinRecordingRetentionDays, MaxRecordingRetentionDays)
	}
	return nil
}

// refs: a policy points at nothing.
func (p *RecordingPolicy) refs() []RoutingRef { return nil }

// RecordsAll reports whether the tenant records every answered call.
func (p *Plan) RecordsAll() bool { return p.Recording != nil && p.Recording.All }

// RecordsDID reports whether calls in on d are recorded.
func (p *Plan) RecordsDID(d DID) bool { return d.Record || p.RecordsAll() }

// RecordsExtension reports whether calls to e, and calls placed by the
// phones e points at, are recorded.
func (p *Plan) RecordsExtension(e *Extension) bool { return e.Record || p.RecordsAll() }
