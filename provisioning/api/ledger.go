package api

import (
	"context"

	"github.com/switchboard-voip/switchboard/cdr/cdrstore"
)

// Ledger is the money of billing as the APIs use it: balances, ledger
// entries and payments, invoices (cdrstore.Store). The Service decides
// who may read and write them; the Ledger only keeps them.
type Ledger interface {
	Post(ctx context.Context, e cdrstore.Entry) (bool, error)
	Balances(ctx context.Context, tenantID int64) ([]cdrstore.Balance, error)
	Ledger(ctx context.Context, f cdrstore.LedgerFilter) ([]cdrstore.LedgerEntry, error)
	GenerateInvoice(ctx context.Context, req cdrstore.InvoiceRequest) (*cdrstore.Invoice, bool, error)
	InvoiceByNumber(ctx context.Context, n int64) (*cdrstore.Invoice, error)
	Invoices(ctx context.Context, tenantIDs []int64) ([]cdrstore.Invoice, error)
}
