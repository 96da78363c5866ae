// Asterisk's channel event log (CEL) as cel_custom writes it: the only
// record on disk with every leg of a call, each under its own uniqueid
// (Master.csv and cdr_custom carry the calling channel only). The
// backfill folds it into one CDR per leg, equal field by field to the CDR
// the live adapter makes of the same leg from ARI's events.

package asterisk

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
)

// celCallMaxRows bounds the rows kept for one linkedid: a two-party call
// writes about a dozen, so a call past this is closed as it stands rather
// than buffered without end.
const celCallMaxRows = 4096

// celFolder gathers CEL rows by call (linkedid) until the call ends
// (LINKEDID_END) and turns each finished call into its legs' CDRs. It
// does no I/O: Backfill and ParseCEL feed it lines.
//
// The mapping, leg by leg (every leg has its own uniqueid):
//   - CallID = uniqueid, LinkedID = linkedid.
//   - Start = CHAN_START, Answer = the first ANSWER (none: not answered),
//     End = CHAN_END (HANGUP when there is no CHAN_END); Duration and
//     Billsec are whole seconds truncated as Calls computes them.
//   - Cause = HANGUP's eventextra hangupcause, CauseText Asterisk's text
//     for it (what ARI sends as cause_txt).
//   - The parties are derived as Calls derives them: the leg whose
//     uniqueid is the linkedid is the calling leg; every other leg of the
//     call is one it dialled, sharing its caller number and name, dialled
//     number (the calling leg's extension) and destination, with its own
//     endpoint as Account. The calling leg's destination channel is the
//     peer it was bridged with, else the first leg it dialled.
//   - Disposition: ANSWERED for an answered leg; else the Dial status in
//     the calling leg's HANGUP eventextra (dialstatus BUSY, NOANSWER…),
//     where a dialled leg that did not answer while another did
//     (dialstatus ANSWER) is NO ANSWER, as Asterisk reports it to ARI
//     (CANCEL); else from the cause, as for a live leg.
//   - CEL has no SIP status, codec or user agent: they stay empty.
//
// A call is turned into CDRs only when its calling leg's CHAN_START was
// read: a file read again from a checkpoint may begin in the middle of
// a call that was delivered before (see Backfill).
type celFolder struct {
	open   map[string]*celCall // by linkedid
	byLeg  map[string]*celCall // by uniqueid
	order  []*celCall          // open calls by first line; closed ones are skipped
	closed []*celCall          // finished, not yet taken
}

// celCall is the rows of one linkedid.
type celCall struct {
	linkedid string
	legs     []*celLeg
	off      int64 // where its first row starts in the file
	line     int   // lines before off
	rows     int
	done     bool
}

// celLeg is what the rows of one uniqueid say.
type celLeg struct {
	id, linkedid   string
	name           string
	num, cidName   string
	exten          string
	app, appData   string
	started, ended bool
	start, answer  time.Time
	end            time.Time
	hungUp         bool
	cause          int
	dialstatus     string
	peer           string
	raws           []json.RawMessage
}

func newCELFolder() *celFolder {
	return &celFolder{open: map[string]*celCall{}, byLeg: map[string]*celCall{}}
}

// add folds one row read at byte offset off, the line after lineNo-1
// lines.
func (f *celFolder) add(r celRow, off int64, lineNo int) {
	call := f.byLeg[r.uniqueid]
	if call == nil {
		call = f.open[r.linkedid]
		if call == nil {
			call = &celCall{linkedid: r.linkedid, off: off, line: lineNo - 1}
			f.open[r.linkedid] = call
			f.order = append(f.order, call)
		}
		f.byLeg[r.uniqueid] = call
	}
	var l *celLeg
	if i := slices.IndexFunc(call.legs, func(l *celLeg) bool { return l.id == r.uniqueid }); i >= 0 {
		l = call.legs[i]
	} else {
		l = &celLeg{id: r.uniqueid}
		call.legs = append(call.legs, l)
	}
	l.apply(r)
	call.rows++
	if r.event == "LINKEDID_END" || call.rows >= celCallMaxRows {
		f.finish(call)
	}
}

func (l *celLeg) apply(r celRow) {
	l.linkedid = r.linkedid
	if r.channame != "" {
		l.name = r.channame
	}
	if r.num != "" || r.name != "" {
		l.num, l.cidName = r.num, r.name
	}
	if r.exten != "" && r.exten != "h" {
		l.exten = r.exten
	}
	if strings.EqualFold(r.appname, "Dial") && !strings.EqualFold(l.app, "Dial") {
		l.app, l.appData = r.appname, r.appdata
	}
	switch r.event {
	case "CHAN_START":
		l.started, l.start = true, r.at
	case "ANSWER":
		if l.answer.IsZero() {
			l.answer = r.at
		}
	case "BRIDGE_ENTER":
		if r.peer != "" {
			l.peer = r.peer
		}
	case "HANGUP":
		l.hungUp, l.cause, l.dialstatus = true, r.cause, r.dialstatus
		if l.end.IsZero() {
			l.end = r.at
		}
	case "CHAN_END":
		l.ended, l.end = true, r.at
	}
	l.raws = append(l.raws, r.raw)
}

func (f *celFolder) finish(c *celCall) {
	if c.done {
		return
	}
	c.done = true
	delete(f.open, c.linkedid)
	for _, l := range c.legs {
		if f.byLeg[l.id] == c {
			delete(f.byLeg, l.id)
		}
	}
	f.closed = append(f.closed, c)
}

// finishEnded closes every open call whose legs have all ended: for a
// file without LINKEDID_END rows (the event left out of cel.conf), once
// the file has been idle for a while, and at the end of a whole file.
func (f *celFolder) finishEnded() {
	for _, c := range f.order {
		if !c.done && len(c.legs) > 0 && !slices.ContainsFunc(c.legs, func(l *celLeg) bool { return !l.ended }) {
			f.finish(c)
		}
	}
	f.compact()
}

// safePoint is where a checkpoint may go: the first line of the oldest
// call still open, or readOff (readLine) when none is.
func (f *celFolder) safePoint(readOff int64, readLine int) (int64, int) {
	f.compact()
	if len(f.order) > 0 {
		return f.order[0].off, f.order[0].line
	}
	return readOff, readLine
}

// compact drops finished calls from order, wherever they are: a long
// call at its front must not keep the calls finished after it in memory.
func (f *celFolder) compact() {
	f.order = slices.DeleteFunc(f.order, func(c *celCall) bool { return c.done })
}

// rebase moves the open calls to the start of a new file (rotation): the
// rows they still await are there.
func (f *celFolder) rebase() {
	f.compact()
	for _, c := range f.order {
		c.off, c.line = 0, 0
	}
}

// pending reports how many finished calls wait to be taken.
func (f *celFolder) pending() int { return len(f.closed) }

// take returns the CDRs of the calls finished since the last take.
func (f *celFolder) take(opt *CSVOptions) []cdr.Record {
	if len(f.closed) == 0 {
		return nil
	}
	c := &Calls{csv: *opt}
	var recs []cdr.Record
	for _, call := range f.closed {
		recs = append(recs, call.records(c)...)
	}
	f.closed = nil
	return recs
}

// records turns a finished call into one CDR per leg that started; see
// celFolder for the mapping.
func (call *celCall) records(c *Calls) []cdr.Record {
	ai := slices.IndexFunc(call.legs, func(l *celLeg) bool { return l.id == call.linkedid })
	if ai < 0 || !call.legs[ai].started {
		return nil
	}
	a := call.legs[ai]
	legs := make([]*leg, 0, len(call.legs))
	var caller *leg
	for _, cl := range call.legs {
		if !cl.started {
			continue
		}
		l := &leg{
			id: cl.id, name: cl.name, linkedID: cl.linkedid, linkedByAsterisk: true,
			caller: CallerID{Name: cl.cidName, Number: cl.num}, exten: cl.exten,
			app: cl.app, appData: cl.appData, dialled: strings.EqualFold(cl.app, "Dial"),
			start: cl.start, answer: cl.answer,
		}
		if cl == a {
			caller = l
		}
		legs = append(legs, l)
	}
	callerDisp, final := dialDisposition(a.dialstatus)
	for _, l := range legs {
		switch {
		case l == caller:
			if final {
				l.dialDisp = callerDisp
			}
			l.peerName = a.peer
		default:
			l.partyA = caller
			if caller.peerName == "" && a.peer == "" {
				caller.peerName = l.name
			}
			if final {
				l.dialDisp = callerDisp
				if callerDisp == cdr.Answered {
					l.dialDisp = cdr.NoAnswer // another leg answered: this one was cancelled
				}
			}
		}
	}
	recs := make([]cdr.Record, 0, len(legs))
	for i, cl := range slices.DeleteFunc(slices.Clone(call.legs), func(l *celLeg) bool { return !l.started }) {
		end := cl.end
		if end.IsZero() {
			end = cl.start // a leg whose end was never written
		}
		recs = append(recs, c.record(legs[i], end, cl.cause, causeText(cl.cause), 0, joinRaw(cl.raws)))
	}
	return recs
}

// ParseCEL reads a whole cel_custom file (CSV or JSON lines, detected from
// the first non-blank line as ParseCSV does) and returns one Record per
// leg of every call in it; see celFolder for the mapping. A call still
// open at the end of the input (a leg without CHAN_END) is left out.
// Lines that cannot be parsed are returned as BadRows.
func ParseCEL(r io.Reader, opt CSVOptions) (recs []cdr.Record, bad []BadRow, err error) {
	if opt.Switch == "" {
		return nil, nil, ErrNoSwitch
	}
	p := newCELLines(opt.Location)
	br := bufio.NewReaderSize(r, 16<<10)
	for lineNo := 1; ; lineNo++ {
		line, tooLong, eof, rerr := readLine(br, maxLineBytes)
		if rerr != nil {
			p.f.finishEnded()
			return p.f.take(&opt), p.bad, fmt.Errorf("asterisk: read CEL file at line %d: %w", lineNo, rerr)
		}
		p.line(line, tooLong, 0, lineNo)
		if eof {
			break
		}
	}
	p.f.finishEnded()
	return p.f.take(&opt), p.bad, nil
}

// celLines parses the lines of one CEL file into a celFolder.
type celLines struct {
	f            *celFolder
	loc          *time.Location
	isJSON, seen bool
	bad          []BadRow
}

func newCELLines(loc *time.Location) *celLines {
	if loc == nil {
		loc = time.UTC
	}
	return &celLines{f: newCELFolder(), loc: loc}
}

// line handles one line starting at off; bad rows are appended to p.bad.
func (p *celLines) line(s string, tooLong bool, off int64, lineNo int) {
	if lineNo == 1 {
		s = strings.TrimPrefix(s, "\uFEFF")
	}
	s = strings.TrimSuffix(s, "\r")
	switch {
	case tooLong:
		p.bad = append(p.bad, BadRow{Line: lineNo, Reason: fmt.Sprintf("line longer than %d bytes", maxLineBytes), Raw: s})
		return
	case strings.TrimSpace(s) == "":
		return
	}
	if !p.seen {
		p.seen = true
		p.isJSON = strings.HasPrefix(strings.TrimSpace(s), "{")
	}
	row, err := parseCELLine(s, p.isJSON, p.loc)
	if err != nil {
		p.bad = append(p.bad, BadRow{Line: lineNo, Reason: err.Error(), Raw: s})
		return
	}
	p.f.add(row, off, lineNo)
}
