package cdr

import "context"

// priceItems prices the records of items that still need it (see
// PriceRecords), just before they are written, so that a record carries
// its price into the store, or into the spool if the write fails. The
// lookups share PriceTimeout. A record whose owner lookup failed is not
// priced yet (its owner decides its plan): it is marked
// UnpricedLookupFailed, so that a replay from the spool tries both again.
// It never fails: a record that cannot be priced is stored unpriced.
func (p *Pipeline) priceItems(ctx context.Context, items []item) {
	if p.cfg.Tariffs == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.PriceTimeout)
	defer cancel()
	err := priceEach(ctx, p.cfg.Tariffs, len(items), func(i int) *Record {
		it := &items[i]
		switch {
		case it.dl != nil || !it.rec.NeedsPrice():
			return nil
		case it.ownerPending:
			it.rec.Unpriced = UnpricedLookupFailed
			return nil
		}
		return &it.rec
	})
	if err == nil {
		p.tariffsDown.Store(false)
		return
	}
	if !p.tariffsDown.Swap(true) {
		p.log.Warn("cdr: cannot look up tariffs; CDRs are stored unpriced (reason lookup_failed) until it answers, and can be re-priced with switchboard rerate", "err", err)
	} else {
		p.log.Debug("cdr: tariff lookup still failing", "err", err)
	}
}
