package cdr

import "context"

// priceItems prices the records of items that still need it (see
// PriceRecords), just before they are written, so that a record carries
// its price, and its supplier price, into the store, or into the spool if
// the write fails. The lookups share PriceTimeout. A record whose owner
// lookup failed is not priced yet (its owner decides its plan): it is
// marked UnpricedLookupFailed, so that a replay from the spool tries both
// again; its supplier price, which no owner decides, is set all the same.
// It never fails: a record that cannot be priced is stored unpriced.
func (p *Pipeline) priceItems(ctx context.Context, items []item) {
	if p.cfg.Tariffs == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.PriceTimeout)
	defer cancel()
	pr := newPricer(p.cfg.Tariffs)
	for i := range items {
		it := &items[i]
		if it.dl != nil {
			continue
		}
		if it.rec.NeedsPrice() {
			if it.ownerPending {
				it.rec.Unpriced = UnpricedLookupFailed
			} else {
				pr.price(ctx, &it.rec)
			}
		}
		if it.rec.NeedsSupplierPrice() {
			pr.priceSupplier(ctx, &it.rec)
		}
	}
	err := pr.err
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
