// Asterisk's own CDR files (cdr_csv's Master.csv, cdr_custom CSV and JSON
// lines). They backfill the calls that ended while Switchboard was not
// listening (`switchboard cdr import`, tailing a configured file) and are
// the reference the ARI-derived CDRs are checked against. The parser only
// parses: it reads an io.Reader, and the caller opens, tails and
// checkpoints files.

package asterisk

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
)

// CSVOptions tells ParseCSV what Asterisk's CDR files do not say.
type CSVOptions struct {
	// Switch is the switch name recorded in every Record. Required.
	Switch string
	// Domain is the SIP domain of this node's accounts: Asterisk's CDR
	// files carry none, so every Record gets this one.
	Domain string
	// Location is the time zone the times were written in: cdr_csv and
	// cdr_custom write local time unless usegmtime=yes. Nil means UTC.
	// During the hour a daylight-saving change repeats, local times are
	// ambiguous (Go picks the first); usegmtime=yes avoids that.
	Location *time.Location
	// IsGateway reports whether a channel's endpoint (the "gateway" of
	// PJSIP/gateway-0000000a) is a gateway rather than a local account. It
	// decides Direction, Account and Gateway. Nil means no endpoint is one.
	IsGateway func(endpoint string) bool
}

// BadRow is a line ParseCSV could not turn into a CDR row: malformed,
// truncated, or missing what a Record needs. It is returned, never
// dropped, so the caller can dead-letter it with the reason.
type BadRow struct {
	Line   int    // 1-based line number in the input
	Reason string // why the line was refused
	Raw    string // the line as read, without its line ending
}

func (b BadRow) String() string { return fmt.Sprintf("line %d: %s", b.Line, b.Reason) }

// ErrNoSwitch is returned by ParseCSV when CSVOptions.Switch is empty: a
// Record without a switch cannot be deduplicated.
var ErrNoSwitch = errors.New("asterisk: CSVOptions.Switch is required")

// maxLineBytes bounds one CDR line. Asterisk's cdr_csv writes at most
// 1 KiB per row; anything near this bound is not a CDR and is refused
// rather than buffered.
const maxLineBytes = 1 << 20

// ParseCSV reads one Asterisk CDR file and returns one Record per call leg.
//
// Formats, detected from the first non-empty line (a line starting with
// '{' means JSON lines, anything else CSV), and per row for CSV:
//   - cdr_csv Master.csv: 16 base columns (accountcode … amaflags), then
//     uniqueid (loguniqueid=yes), userfield (loguserfield=yes) and
//     peeraccount, linkedid, sequence (newcdrcolumns=yes): 16 to 21
//     columns. With 17 or 20 columns the optional one is taken for the
//     uniqueid when it looks like one (epoch.sequence). Rows without a
//     uniqueid are refused: it is the key that deduplicates imports
//     against live CDRs, so cdr.conf needs loguniqueid=yes.
//   - cdr_custom CSV with the column order of cdr_custom.conf.sample's
//     Master.csv mapping (clid, src, dst, … uniqueid, userfield, sequence:
//     19 columns, start in the 9th rather than the 10th).
//   - cdr_custom advanced "json" format (or any JSON object per line)
//     keyed by Asterisk's CDR field names; numbers may be JSON numbers or
//     strings, and start/answer/end dates or epochs (start(int64)).
//   - cel_custom (CEL) CSV or JSON lines, whose first line is a CEL row:
//     read as ParseCEL reads them, one Record per leg of each call.
//
// Rows sharing a uniqueid are merged into ONE Record, because busy and
// unanswered calls make Asterisk write two rows (the Dial and the Hangup)
// for one channel: the first row gives the parties, disposition and
// destination channel; the Record spans the earliest start to the latest
// end, answers at the earliest answer, and keeps the largest duration and
// billsec. Records come out in the order their uniqueid first appeared.
// Merging is per call of ParseCSV: a caller tailing a file should hand it
// whole rows of a call together or let the store's upsert settle repeats.
//
// Field mapping: CallID = uniqueid; LinkedID = linkedid, or the uniqueid
// when the file has no linkedid (a CDR row describes the originating
// channel, whose uniqueid is the linkedid in an ordinary call);
// CallerNumber = src; CallerName from clid ("Alice" <1001>); Dialed = dst;
// Destination = the Dial target when it names dstchannel's endpoint (so an
// outbound call reads 555@gateway), else dstchannel's endpoint, else the
// Dial target, else lastdata, else lastapp (Echo). Direction: inbound when the calling channel's
// endpoint is a gateway, outbound when the called one is, internal
// otherwise; Account is the local endpoint on the calling side (the called
// side for inbound calls) and Gateway the gateway endpoint. Only PJSIP,
// SIP and IAX2 channels name accounts or gateways. Disposition maps
// straight. CSV CDRs carry no Q.850 cause, SIP status, codec or user
// agent: Cause and SIPStatus stay 0 and the texts empty. Times are
// returned in UTC. Raw is a JSON array of the merged rows: a CSV line as a
// JSON string, a JSON line as its object.
//
// Lines that cannot be parsed come back as BadRows with their line number;
// blank lines are skipped. err is only for a missing Switch or a read
// error, in which case the records and bad rows parsed so far are returned
// with it.
func ParseCSV(r io.Reader, opt CSVOptions) (recs []cdr.Record, bad []BadRow, err error) {
	if opt.Switch == "" {
		return nil, nil, ErrNoSwitch
	}
	loc := opt.Location
	if loc == nil {
		loc = time.UTC
	}
	var (
		br     = bufio.NewReaderSize(r, 16<<10)
		m      = merger{byID: map[string]int{}}
		isJSON bool
		seen   bool      // a non-blank line fixed the format
		cel    *celLines // the file is cel_custom's (ParseCEL)
	)
	for lineNo := 1; ; lineNo++ {
		line, tooLong, eof, rerr := readLine(br, maxLineBytes)
		if rerr != nil {
			if cel != nil {
				cel.f.finishEnded()
				return cel.f.take(&opt), cel.bad, fmt.Errorf("asterisk: read CEL file at line %d: %w", lineNo, rerr)
			}
			return m.records(&opt), bad, fmt.Errorf("asterisk: read CDR file at line %d: %w", lineNo, rerr)
		}
		if cel == nil && !seen && strings.TrimSpace(strings.TrimPrefix(line, "\uFEFF")) != "" && isCELLine(strings.TrimPrefix(line, "\uFEFF")) {
			cel = newCELLines(opt.Location)
		}
		if cel != nil {
			cel.line(line, tooLong, 0, lineNo)
			if eof {
				break
			}
			continue
		}
		if lineNo == 1 {
			line = strings.TrimPrefix(line, "\uFEFF")
		}
		line = strings.TrimSuffix(line, "\r")
		switch {
		case tooLong:
			bad = append(bad, BadRow{Line: lineNo, Reason: fmt.Sprintf("line longer than %d bytes", maxLineBytes), Raw: line})
		case strings.TrimSpace(line) == "":
			// Nothing to keep.
		default:
			if !seen {
				seen = true
				isJSON = strings.HasPrefix(strings.TrimSpace(line), "{")
			}
			var (
				row  cdrRow
				perr error
			)
			if isJSON {
				row, perr = parseJSONLine(line, loc)
			} else {
				row, perr = parseCSVLine(line, loc)
			}
			if perr != nil {
				bad = append(bad, BadRow{Line: lineNo, Reason: perr.Error(), Raw: line})
			} else {
				m.add(row)
			}
		}
		if eof {
			break
		}
	}
	if cel != nil {
		cel.f.finishEnded()
		return cel.f.take(&opt), cel.bad, nil
	}
	return m.records(&opt), bad, nil
}

// readLine returns the next line without its '\n'. A line longer than max
// is returned cut at max with tooLong set, its rest consumed. eof is set
// on the last line (which may be empty).
func readLine(br *bufio.Reader, max int) (line string, tooLong, eof bool, err error) {
	var buf []byte
	for {
		chunk, rerr := br.ReadSlice('\n')
		if len(buf)+len(chunk) > max {
			if !tooLong {
				buf = append(buf, chunk[:max-len(buf)]...)
			}
			tooLong = true
		} else if !tooLong {
			buf = append(buf, chunk...)
		}
		switch {
		case rerr == nil:
			return strings.TrimSuffix(string(buf), "\n"), tooLong, false, nil
		case errors.Is(rerr, bufio.ErrBufferFull):
			continue
		case errors.Is(rerr, io.EOF):
			return string(buf), tooLong, true, nil
		default:
			return "", false, false, rerr
		}
	}
}

// cdrRow is one parsed row, before merging by uniqueid.
type cdrRow struct {
	src, dst, clid      string
	channel, dstchannel string
	lastapp, lastdata   string
	uniqueid, linkedid  string
	start, answer, end  time.Time // answer is zero when unanswered
	duration, billsec   int
	disposition         cdr.Disposition
	raw                 json.RawMessage
}

// merger folds rows into one entry per uniqueid, in order of appearance.
type merger struct {
	byID    map[string]int
	entries []*mergedRow
}

type mergedRow struct {
	first             cdrRow
	linkedid          string
	start, answer     time.Time
	end               time.Time
	duration, billsec int
	raws              []json.RawMessage
}

func (m *merger) add(r cdrRow) {
	i, ok := m.byID[r.uniqueid]
	if !ok {
		m.byID[r.uniqueid] = len(m.entries)
		m.entries = append(m.entries, &mergedRow{
			first: r, linkedid: r.linkedid,
			start: r.start, answer: r.answer, end: r.end,
			duration: r.duration, billsec: r.billsec,
			raws: []json.RawMessage{r.raw},
		})
		return
	}
	e := m.entries[i]
	if r.start.Before(e.start) {
		e.start = r.start
	}
	if r.end.After(e.end) {
		e.end = r.end
	}
	if !r.answer.IsZero() && (e.answer.IsZero() || r.answer.Before(e.answer)) {
		e.answer = r.answer
	}
	e.duration = max(e.duration, r.duration)
	e.billsec = max(e.billsec, r.billsec)
	if e.linkedid == "" {
		e.linkedid = r.linkedid
	}
	e.raws = append(e.raws, r.raw)
}

func (m *merger) records(opt *CSVOptions) []cdr.Record {
	if len(m.entries) == 0 {
		return nil
	}
	recs := make([]cdr.Record, 0, len(m.entries))
	for _, e := range m.entries {
		recs = append(recs, opt.record(e))
	}
	return recs
}

// record turns a merged row into a Record; see ParseCSV for the mapping.
func (o *CSVOptions) record(e *mergedRow) cdr.Record {
	r := &e.first
	callerTech, callerEP := channelEndpoint(r.channel)
	calleeTech, calleeEP := channelEndpoint(r.dstchannel)
	var dialTech, dialEP, dialRes string
	if strings.EqualFold(r.lastapp, "Dial") {
		dialTech, dialEP, dialRes = dialTarget(r.lastdata)
	}
	if calleeEP == "" {
		calleeTech, calleeEP = dialTech, dialEP
	}
	callerGW := o.isGateway(callerTech, callerEP)
	calleeGW := o.isGateway(calleeTech, calleeEP)

	rec := cdr.Record{
		Switch:       o.Switch,
		CallID:       r.uniqueid,
		LinkedID:     e.linkedid,
		Domain:       o.Domain,
		CallerNumber: r.src,
		CallerName:   callerName(r.clid, r.src),
		Dialed:       r.dst,
		Start:        e.start,
		End:          e.end,
		Duration:     e.duration,
		Billsec:      e.billsec,
		Disposition:  r.disposition,
		Raw:          joinRaw(e.raws),
	}
	if rec.LinkedID == "" {
		rec.LinkedID = rec.CallID
	}
	if rec.CallerNumber == "" {
		rec.CallerNumber = callerNumber(r.clid)
	}
	if !e.answer.IsZero() {
		a := e.answer
		rec.Answer = &a
	}
	switch {
	case callerGW:
		rec.Direction = cdr.DirectionInbound
		rec.Gateway = callerEP
		if isAccountTech(calleeTech) && !calleeGW {
			rec.Account = calleeEP
		}
	case calleeGW:
		rec.Direction = cdr.DirectionOutbound
		rec.Gateway = calleeEP
		if isAccountTech(callerTech) {
			rec.Account = callerEP
		}
	default:
		rec.Direction = cdr.DirectionInternal
		if isAccountTech(callerTech) {
			rec.Account = callerEP
		}
	}
	switch {
	case dialRes != "" && dialEP == calleeEP:
		rec.Destination = dialRes
	case calleeEP != "":
		rec.Destination = calleeEP
	case dialRes != "":
		rec.Destination = dialRes
	case r.lastdata != "":
		rec.Destination = r.lastdata
	default:
		rec.Destination = r.lastapp
	}
	return rec
}

func (o *CSVOptions) isGateway(tech, endpoint string) bool {
	return endpoint != "" && isAccountTech(tech) && o.IsGateway != nil && o.IsGateway(endpoint)
}

// joinRaw makes the JSON array of a record's rows.
func joinRaw(raws []json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, r := range raws {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(r)
	}
	b.WriteByte(']')
	return b.Bytes()
}
