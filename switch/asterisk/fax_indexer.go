package asterisk

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// FaxService is what the fax indexer needs of provisioning.Service.
type FaxService interface {
	DepositFax(ctx context.Context, f *provisioning.Fax, tiff []byte) (created bool, err error)
}

var _ FaxService = (*provisioning.Service)(nil)

// FaxIndexerConfig configures a FaxIndexer.
type FaxIndexerConfig struct {
	// Node is the switch's name: the Switch of its faxes.
	Node string
	// Dir is the node's fax_dir (NodeConfig.FaxDir).
	Dir     string
	Service FaxService
	// Every is the time between scans; 2 s when zero.
	Every  time.Duration
	Logger *slog.Logger
}

// FaxIndexer hands the faxes Asterisk received (routing_fax.go) to
// Switchboard: every scan deposits each complete sidecar
// (<tenant>-<box>-<uniqueid>.done ending in end=1) with its TIFF (none
// when no page came), then removes both. A deposit that fails leaves the
// files for a later scan, less and less often; DepositFax keeps one fax
// per uniqueid, so files left by a crash between deposit and removal add
// nothing the second time.
type FaxIndexer struct {
	cfg FaxIndexerConfig
	sc  *sidecarScan
}

// NewFaxIndexer returns an indexer; it starts nothing: call Run.
func NewFaxIndexer(cfg FaxIndexerConfig) *FaxIndexer {
	return &FaxIndexer{cfg: cfg, sc: newSidecarScan(cfg.Dir, cfg.Every, "fax", "fax_dir", cfg.Logger)}
}

// Run scans until ctx ends.
func (x *FaxIndexer) Run(ctx context.Context) error { return x.sc.run(ctx, x.Scan) }

// Scan deposits every complete fax once. Run calls it; tests call it
// directly.
func (x *FaxIndexer) Scan(ctx context.Context) error { return x.sc.scan(ctx, x.deposit) }

// deposit hands one fax over and removes its files.
func (x *FaxIndexer) deposit(ctx context.Context, base string) error {
	st, err := os.Stat(base + ".done")
	if err != nil {
		return err
	}
	if st.Size() > 64<<10 {
		return fmt.Errorf("%w: %d bytes", errFaxSidecar, st.Size())
	}
	b, err := os.ReadFile(base + ".done")
	if err != nil {
		return err
	}
	out, err := ParseFaxOutcome(b)
	if err != nil {
		return err
	}
	box, ref, err := parseFaxName(filepath.Base(base))
	if err != nil {
		return err
	}
	tiff, err := os.ReadFile(base + ".tif")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	f := &provisioning.Fax{BoxID: box, Switch: x.cfg.Node, SwitchRef: ref, CallerIDNumber: out.CallerIDNumber,
		RemoteStation: out.RemoteStation, Status: provisioning.FaxPartial, ReceivedAt: st.ModTime().UTC()}
	if out.Status == "SUCCESS" {
		f.Status = provisioning.FaxReceived
	} else {
		f.Error = strings.TrimSpace(out.Status + " " + out.Error)
	}
	if _, err := x.cfg.Service.DepositFax(ctx, f, tiff); err != nil {
		return err
	}
	return errors.Join(removeIfThere(base+".tif"), os.Remove(base+".done"))
}

var (
	// errFaxIncomplete: the sidecar has no end=1 line yet.
	errFaxIncomplete = fmt.Errorf("%w: fax sidecar without end=1", errNotYet)
	// errFaxSidecar: a sidecar or its name is not what fdone writes.
	errFaxSidecar = errors.New("asterisk: unusable fax sidecar")
)

// FaxOutcome is what the fdone handler wrote about a fax call.
type FaxOutcome struct {
	Status         string // FAXSTATUS: SUCCESS, FAILED, ...
	Pages          int    // FAXPAGES (the TIFF is what counts)
	Error          string // FAXERROR
	RemoteStation  string // REMOTESTATIONID
	CallerIDNumber string
}

// ParseFaxOutcome reads a sidecar: key=value lines, the first value of
// a key kept (the caller ID comes last: a newline in it cannot replace a
// key written before), complete once end=1 is there.
func ParseFaxOutcome(b []byte) (FaxOutcome, error) {
	var o FaxOutcome
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimRight(sc.Text(), "\r"), "=")
		if !ok || seen[k] {
			continue
		}
		seen[k] = true
		switch k {
		case "status":
			o.Status = v
		case "pages":
			o.Pages, _ = strconv.Atoi(v)
		case "error":
			o.Error = v
		case "station":
			o.RemoteStation = strings.TrimSpace(v)
		case "caller":
			o.CallerIDNumber = v
		case "end":
			return o, nil
		}
	}
	if err := sc.Err(); err != nil {
		return o, fmt.Errorf("%w: %w", errFaxSidecar, err)
	}
	return o, errFaxIncomplete
}

// parseFaxName splits <tenant>-<box>-<uniqueid> (FaxBase) into the box
// and the uniqueid; the box knows its tenant.
func parseFaxName(name string) (box int64, ref string, err error) {
	parts := strings.SplitN(name, "-", 3)
	if len(parts) == 3 && parts[2] != "" {
		_, err1 := strconv.ParseInt(parts[0], 10, 64)
		box, err2 := strconv.ParseInt(parts[1], 10, 64)
		if err1 == nil && err2 == nil {
			return box, parts[2], nil
		}
	}
	return 0, "", fmt.Errorf("%w: name %q is not <tenant>-<box>-<uniqueid>", errFaxSidecar, name)
}
