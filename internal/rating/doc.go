// Package rating prices calls: a tariff plan's rates by destination
// prefix, compiled into an immutable Tariff that answers, for a
// destination and a call start, what the call costs (Rate) and how long
// the money available allows it to last (MaxDuration). It has no store,
// no HTTP and no switch: the CDR pipeline, the re-rater, the authorizer
// that answers the switches before a call and the rate deck import all
// use it alike, so a call is priced the same way before, during and
// after it.
//
// The rules, each chosen so that pricing is deterministic and never
// cheaper than the tariff says:
//
//   - Lookup: the longest prefix of the dialled digits with a rate in
//     force at the call's start. Among one prefix's rates in force, the
//     later effective_from wins (a new deck replaces the old one from its
//     date), then the narrower weekly window (a night or weekend rate
//     over the all-day one), then the earlier row of the deck. Two rates
//     of a prefix with the same effective_from, days and window are
//     refused when the plan is compiled (ErrDuplicateRate).
//   - Time of day: days and windows are read on the wall clock of the
//     plan's IANA zone at the call's start, on the start's local date. A
//     window from 22:00 to 06:00 runs over midnight; it applies on the
//     days listed, counted by the date on which the call starts. In the
//     hour skipped by a DST change no call starts; in the hour repeated,
//     both instants have the same local time and so the same rate.
//   - One rate per call: the rate in force at the start prices all of the
//     call, however long it lasts (see Tariff.Rate for why).
//   - Billed time: the call's seconds less the free seconds, rounded up to
//     whole increments (first, then next), at least the minimum; a call
//     within its free seconds pays the connection fee only; a call of
//     zero seconds pays nothing.
//   - Cost: connection fee + price per minute × billed seconds / 60,
//     exact, then rounded up once to the plan's charge step
//     (money.Ceil). Cost is non-decreasing in the call's duration.
//   - MaxDuration is Rate's exact inverse: the longest duration whose
//     cost is within the money, ending on an increment boundary.
//
// Rate decks (CSV, see DeckDecoder and DeckEncoder) carry the same
// fields, one rate a row, under a header naming the columns.
package rating
