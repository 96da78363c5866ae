// Package fax turns the TIFF a fax receiver writes into a PDF.
//
// FreeSWITCH (mod_spandsp rxfax) and Asterisk (ReceiveFAX with
// res_fax_spandsp) both hand a received fax over as a multi-page bilevel
// TIFF written by spandsp through libtiff: one page per IFD, CCITT Group 3
// (1-D or 2-D, with EOL fill bits) or Group 4 as the call negotiated, at
// fax resolutions (204 dpi across; 98, 196 or 391 lines per inch down).
// Switchboard stores and mails faxes as PDF, which every mail client can
// show; this package is that conversion, in pure Go so the daemon needs no
// libtiff or ghostscript beside it.
//
// The API is two calls because the two halves have different callers:
// ReadTIFF is the parser of outside input (fuzzed, limited against
// decompression bombs, every failure an error wrapping ErrFormat) and
// also gives the page count the fax list shows; Document.WritePDF renders
// what was read. golang.org/x/image/tiff is not used because it decodes
// only a TIFF's first page.
package fax
