package rating

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-voip/switchboard/internal/money"
)

// A rate deck is a CSV file, one rate a row, under a header row naming
// its columns; the columns may come in any order and only prefix and
// price_per_minute are required. An empty or absent column takes its
// default: no connection fee, 1/1 increments (per-second billing, so a
// missing column never makes a call dearer), no minimum, no free seconds,
// every day, all day, always in force.
var deckColumns = [...]string{
	"prefix", "destination", "group", "price_per_minute", "connect_fee",
	"first_increment", "next_increment", "minimum_seconds", "free_seconds",
	"days", "time_from", "time_to", "effective_from", "effective_to",
}

const (
	colPrefix = iota
	colDestination
	colGroup
	colPrice
	colConnectFee
	colFirstIncrement
	colNextIncrement
	colMinimum
	colFree
	colDays
	colTimeFrom
	colTimeTo
	colEffectiveFrom
	colEffectiveTo
	numColumns
)

// DeckOptions are the settings of a deck read or written.
type DeckOptions struct {
	// Location is the zone of effective dates written as a bare date
	// ("2026-03-01" is its midnight there); nil means UTC. Dates with a
	// time and offset (RFC 3339) are read as written.
	Location *time.Location
	// Progress, when set, is called after every 1,000 rows and once at
	// the end of the deck, for a progress bar.
	Progress func(DeckProgress)
	// Comma separates the fields: ',' when zero on writing; on reading,
	// zero means the header decides (a ';' or a tab in a header without
	// ',' picks that one), because spreadsheets set to a decimal comma
	// save "CSV" with semicolons. With a separator other than ',' a
	// decimal comma in a price is read too ("0,0123"); prices are always
	// written with a point.
	Comma rune
}

// DeckProgress is how far a deck has been read.
type DeckProgress struct {
	Rows  int   // rates read
	Bytes int64 // bytes of the deck consumed
}

// progressEvery is how many rows pass between two Progress calls.
const progressEvery = 1000

// DeckError is a deck row that cannot be a rate: its line (1 is the
// header), the column by its header name, and why.
type DeckError struct {
	Line   int
	Column string
	Err    error
}

func (e *DeckError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("rating: rate deck line %d: %v", e.Line, e.Err)
	}
	return fmt.Sprintf("rating: rate deck line %d, column %s: %v", e.Line, e.Column, e.Err)
}

func (e *DeckError) Unwrap() error { return e.Err }

// DeckDecoder reads a deck one rate at a time, holding one row: a deck of
// any size is imported in the memory of its rates (and a store can insert
// them in batches without holding even that).
type DeckDecoder struct {
	r      *csv.Reader
	opt    DeckOptions
	loc    *time.Location
	cols   [numColumns]int // field index of each column, -1 when absent
	header bool
	rows   int
	err    error // sticky: io.EOF or the error that ended the deck
	intern map[string]string
}

// NewDeckDecoder returns a decoder reading r.
func NewDeckDecoder(r io.Reader, opt DeckOptions) *DeckDecoder {
	br := bufio.NewReaderSize(r, 64<<10)
	c := csv.NewReader(br) // reads through br itself, so offsets stay exact
	c.ReuseRecord = true
	c.Comma = opt.Comma
	if c.Comma == 0 {
		c.Comma = sniffComma(br)
	}
	loc := opt.Location
	if loc == nil {
		loc = time.UTC
	}
	return &DeckDecoder{r: c, opt: opt, loc: loc, intern: map[string]string{}}
}

// ReadDeck reads a whole deck.
func ReadDeck(r io.Reader, opt DeckOptions) ([]Rate, error) {
	d := NewDeckDecoder(r, opt)
	var rates []Rate
	for {
		rate, err := d.Next()
		if err == io.EOF {
			return rates, nil
		}
		if err != nil {
			return nil, err
		}
		rates = append(rates, rate)
	}
}

// Next returns the next rate, io.EOF after the last, or the error that
// ends the deck: a *DeckError naming the line (and the column) of a bad
// value (wrapping ErrInvalidRate) or of CSV that cannot be read or a bad
// header (wrapping ErrDeck); an error of the reader itself is returned
// wrapped as it is. Every later call returns the same error: a
// half-imported deck is the store's to discard.
func (d *DeckDecoder) Next() (Rate, error) {
	if d.err != nil {
		return Rate{}, d.err
	}
	rate, err := d.next()
	if err != nil {
		d.err = err
		if err == io.EOF {
			d.progress()
		}
	}
	return rate, err
}

func (d *DeckDecoder) next() (Rate, error) {
	if !d.header {
		if err := d.readHeader(); err != nil {
			return Rate{}, err
		}
	}
	rec, err := d.r.Read()
	if err == io.EOF {
		return Rate{}, io.EOF
	}
	if err != nil {
		return Rate{}, readError(err)
	}
	rate, err := d.parse(rec)
	if err != nil {
		return Rate{}, err
	}
	d.rows++
	if d.rows%progressEvery == 0 {
		d.progress()
	}
	return rate, nil
}

// readError tells CSV that cannot be parsed (the deck's fault, with its
// line) from a failing reader (an upload cut off).
func readError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &DeckError{Line: pe.Line, Err: fmt.Errorf("%w: %w", ErrDeck, pe.Err)}
	}
	return fmt.Errorf("rating: reading rate deck: %w", err)
}

// sniffComma looks at the header line without consuming it: ',' unless
// the line has no ',' but a ';' or a tab.
func sniffComma(br *bufio.Reader) rune {
	head, _ := br.Peek(4096)
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		head = head[:i]
	}
	switch {
	case bytes.IndexByte(head, ',') >= 0:
		return ','
	case bytes.IndexByte(head, ';') >= 0:
		return ';'
	case bytes.IndexByte(head, '\t') >= 0:
		return '\t'
	}
	return ','
}

func (d *DeckDecoder) progress() {
	if d.opt.Progress != nil {
		d.opt.Progress(DeckProgress{Rows: d.rows, Bytes: d.r.InputOffset()})
	}
}

func (d *DeckDecoder) readHeader() error {
	rec, err := d.r.Read()
	if err == io.EOF {
		return fmt.Errorf("%w: empty file, no header row", ErrDeck)
	}
	if err != nil {
		return readError(err)
	}
	for i := range d.cols {
		d.cols[i] = -1
	}
	for i, name := range rec {
		if i == 0 {
			name = strings.TrimPrefix(name, "\ufeff") // a spreadsheet's UTF-8 byte order mark
		}
		name = strings.ToLower(strings.TrimSpace(name))
		c := columnIndex(name)
		if c < 0 {
			return &DeckError{Line: 1, Column: name, Err: fmt.Errorf("%w: unknown column (known: %s)", ErrDeck, strings.Join(deckColumns[:], ", "))}
		}
		if d.cols[c] >= 0 {
			return &DeckError{Line: 1, Column: name, Err: fmt.Errorf("%w: column named twice", ErrDeck)}
		}
		d.cols[c] = i
	}
	for _, c := range []int{colPrefix, colPrice} {
		if d.cols[c] < 0 {
			return &DeckError{Line: 1, Column: deckColumns[c], Err: fmt.Errorf("%w: required column missing", ErrDeck)}
		}
	}
	d.header = true
	return nil
}

func columnIndex(name string) int {
	for i, c := range deckColumns {
		if c == name {
			return i
		}
	}
	return -1
}

// parse turns one record into a validated Rate.
func (d *DeckDecoder) parse(rec []string) (Rate, error) {
	r := Rate{FirstIncrement: 1, NextIncrement: 1}
	cell := func(c int) string {
		if d.cols[c] < 0 {
			return ""
		}
		return strings.TrimSpace(rec[d.cols[c]])
	}
	fail := func(c int, err error) error {
		line := 0
		if d.cols[c] >= 0 {
			line, _ = d.r.FieldPos(d.cols[c])
		} else {
			line, _ = d.r.FieldPos(0)
		}
		return &DeckError{Line: line, Column: deckColumns[c], Err: err}
	}
	var err error
	r.Prefix = cell(colPrefix)
	r.Destination = d.interned(cell(colDestination))
	r.Group = d.interned(cell(colGroup))
	for _, m := range []struct {
		c   int
		dst *money.Amount
	}{{colPrice, &r.PricePerMinute}, {colConnectFee, &r.ConnectFee}} {
		s := cell(m.c)
		if s == "" && m.c == colPrice {
			return Rate{}, fail(m.c, fmt.Errorf("%w: price_per_minute is empty", ErrInvalidRate))
		}
		if s == "" {
			continue
		}
		if d.r.Comma != ',' && strings.Count(s, ",") == 1 && !strings.Contains(s, ".") {
			s = strings.Replace(s, ",", ".", 1) // a decimal comma from the same spreadsheet
		}
		if *m.dst, err = money.Parse(s); err != nil {
			return Rate{}, fail(m.c, fmt.Errorf("%w: %w", ErrInvalidRate, err))
		}
	}
	for _, n := range []struct {
		c   int
		dst *int
	}{{colFirstIncrement, &r.FirstIncrement}, {colNextIncrement, &r.NextIncrement},
		{colMinimum, &r.MinimumSeconds}, {colFree, &r.FreeSeconds}} {
		s := cell(n.c)
		if s == "" {
			continue
		}
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 || v > maxRateSeconds {
			return Rate{}, fail(n.c, fmt.Errorf("%w: %q is not a number of seconds 0 to %d", ErrInvalidRate, s, maxRateSeconds))
		}
		*n.dst = v
	}
	if r.Days, err = ParseWeekdays(cell(colDays)); err != nil {
		return Rate{}, fail(colDays, err)
	}
	for _, t := range []struct {
		c   int
		dst *TimeOfDay
	}{{colTimeFrom, &r.TimeFrom}, {colTimeTo, &r.TimeTo}} {
		if s := cell(t.c); s != "" {
			if *t.dst, err = ParseTimeOfDay(s); err != nil {
				return Rate{}, fail(t.c, err)
			}
		}
	}
	// One bound given alone runs to the start or end of the day; the whole
	// day is spelled as no window at all.
	if cell(colTimeFrom) != "" && cell(colTimeTo) == "" {
		r.TimeTo = endOfDay
	}
	if r.TimeFrom == 0 && r.TimeTo == endOfDay {
		r.TimeTo = 0
	}
	for _, e := range []struct {
		c   int
		dst *time.Time
	}{{colEffectiveFrom, &r.EffectiveFrom}, {colEffectiveTo, &r.EffectiveTo}} {
		if s := cell(e.c); s != "" {
			if *e.dst, err = d.parseTime(s); err != nil {
				return Rate{}, fail(e.c, err)
			}
		}
	}
	if err := r.Validate(); err != nil {
		var fe *FieldError
		c := colPrefix
		if errors.As(err, &fe) {
			if i := columnIndex(fe.Field); i >= 0 {
				c = i
			}
		}
		return Rate{}, fail(c, err)
	}
	return r, nil
}

// parseTime reads a bare date (midnight in the deck's zone) or an RFC 3339
// date and time.
func (d *DeckDecoder) parseTime(s string) (time.Time, error) {
	if len(s) == len(time.DateOnly) {
		t, err := time.ParseInLocation(time.DateOnly, s, d.loc)
		if err != nil {
			return time.Time{}, fmt.Errorf("%w: %q is not a date (YYYY-MM-DD)", ErrInvalidRate, s)
		}
		return t, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %q is not a date (YYYY-MM-DD) or an RFC 3339 time", ErrInvalidRate, s)
	}
	return t, nil
}

// interned returns one shared copy of a destination or group name: a deck
// names a few thousand destinations over 100,000 rows, and each row's
// copy would otherwise stay alive in its Rate.
func (d *DeckDecoder) interned(s string) string {
	if s == "" {
		return ""
	}
	if v, ok := d.intern[s]; ok {
		return v
	}
	if len(d.intern) < 1<<16 {
		s = strings.Clone(s)
		d.intern[s] = s
	}
	return s
}

// DeckEncoder writes rates as a deck that DeckDecoder reads back to the
// same rates: every column, in the order of the header, canonical values
// (the shortest exact decimal, "mon-fri", "HH:MM", a bare date for a
// midnight in the deck's zone, else RFC 3339 in UTC).
type DeckEncoder struct {
	w      *csv.Writer
	loc    *time.Location
	header bool
	rec    [numColumns]string
}

// NewDeckEncoder returns an encoder writing to w with opt's Location and
// Comma; Progress is not used.
func NewDeckEncoder(w io.Writer, opt DeckOptions) *DeckEncoder {
	loc := opt.Location
	if loc == nil {
		loc = time.UTC
	}
	cw := csv.NewWriter(w)
	if opt.Comma != 0 {
		cw.Comma = opt.Comma
	}
	return &DeckEncoder{w: cw, loc: loc}
}

// WriteDeck writes a whole deck.
func WriteDeck(w io.Writer, rates []Rate, opt DeckOptions) error {
	e := NewDeckEncoder(w, opt)
	for i := range rates {
		if err := e.Write(&rates[i]); err != nil {
			return err
		}
	}
	return e.Flush()
}

// Write writes one rate (after the header, the first time).
func (e *DeckEncoder) Write(r *Rate) error {
	if err := e.writeHeader(); err != nil {
		return err
	}
	e.rec = [numColumns]string{
		colPrefix:         r.Prefix,
		colDestination:    r.Destination,
		colGroup:          r.Group,
		colPrice:          r.PricePerMinute.String(),
		colConnectFee:     r.ConnectFee.String(),
		colFirstIncrement: strconv.Itoa(r.FirstIncrement),
		colNextIncrement:  strconv.Itoa(r.NextIncrement),
		colMinimum:        strconv.Itoa(r.MinimumSeconds),
		colFree:           strconv.Itoa(r.FreeSeconds),
		colDays:           r.Days.String(),
		colEffectiveFrom:  e.formatTime(r.EffectiveFrom),
		colEffectiveTo:    e.formatTime(r.EffectiveTo),
	}
	if !r.allDay() {
		e.rec[colTimeFrom], e.rec[colTimeTo] = r.TimeFrom.String(), r.TimeTo.String()
	}
	return e.w.Write(e.rec[:])
}

func (e *DeckEncoder) writeHeader() error {
	if e.header {
		return nil
	}
	e.header = true
	return e.w.Write(deckColumns[:])
}

// Flush writes what is buffered (and the header of an empty deck).
func (e *DeckEncoder) Flush() error {
	if err := e.writeHeader(); err != nil {
		return err
	}
	e.w.Flush()
	return e.w.Error()
}

func (e *DeckEncoder) formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	l := t.In(e.loc)
	if h, m, s := l.Clock(); h == 0 && m == 0 && s == 0 && l.Nanosecond() == 0 {
		return l.Format(time.DateOnly)
	}
	// In UTC, not the zone: RFC 3339 offsets have no seconds, and a zone's
	// historical offset may (Africa/Monrovia's −00:44:30 until 1972).
	return t.UTC().Format(time.RFC3339Nano)
}
