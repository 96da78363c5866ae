// Package authz is Switchboard's real-time call authorization: before a
// switch connects a call it asks Authorize, which answers with a refusal
// reason or the longest the call may last, and reserves what the call
// may cost and one of the tenant's (and user's) concurrent call slots
// until the call is released (hangup or its CDR) or its reservation
// expires.
//
// The limit is the enforcement: the switch schedules the hang-up at the
// authorized second (FreeSWITCH sched_hangup, Asterisk Dial's L()), so a
// prepaid call ends when its money runs out without Switchboard watching
// it. Calls running in parallel share one balance by reservation: each
// call reserves what its full authorized duration would cost, and the
// next call only sees the balance less every live reservation, so the
// sum of what the live calls may spend never exceeds the balance (plus
// the credit limit when postpaid). A per-call cap (the tenant's or
// user's maximum call duration, else Config.MaxCallSeconds) keeps one
// call from reserving a whole balance for hours.
//
// The state of live calls is in memory, one mutex over small maps: the
// count-and-reserve step is atomic, so 20 parallel attempts against a
// limit of 5 give exactly 5; the I/O (tariff, balance, policy, limits,
// spending) happens before the lock is taken. With a journal
// (Config.Journal, journal.go) the reservations are written behind to
// the CDR database every 50 ms, off the authorization's path, and
// Restore reads them back when the daemon starts: a restart forgets at
// most the changes of the last 50 ms.
//
// The package declares the small interfaces it consumes (TariffSource,
// BalanceSource, CreditPolicySource, LimitSource, SpendSource,
// WhitelistSource, ReservationStore); the
// daemon wires provisioning.Service and the CDR store into them.
package authz
