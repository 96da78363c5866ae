// Package authztest holds the fixed money sources the switches' tests
// authorize calls against (provisioning/authz): one tariff, one balance,
// prepaid or postpaid without a credit limit, and a tenant's limits.
package authztest

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/internal/rating"
	"github.com/switchboard-voip/switchboard/provisioning/authz"
)

// Money is every source of an Authorizer, fixed; change its fields under
// Mu (or between calls).
type Money struct {
	Mu      sync.Mutex
	Tariff  *rating.Tariff
	Funds   money.Amount // the balance
	Prepaid bool
	Tenant  authz.Limits
}

// FranceTariff prices 33… at 0.60 EUR a minute, per second (1/1), no
// fee: 0.01 EUR pays exactly one second.
func FranceTariff() (*rating.Tariff, error) {
	rates, err := rating.ReadDeck(strings.NewReader("prefix,destination,price_per_minute,connect_fee,first_increment,next_increment\n33,France,0.60,,1,1\n"), rating.DeckOptions{})
	if err != nil {
		return nil, err
	}
	return rating.Compile(rating.Plan{Name: "test", Currency: "EUR", ChargeStep: money.MustParse("0.0001"), Rates: rates})
}

// New returns an Authorizer over m.
func (m *Money) New() *authz.Authorizer { return authz.New(m, m, m, m, nil, authz.Config{}) }

func (m *Money) TenantTariff(context.Context, int64) (*rating.Tariff, error) {
	m.Mu.Lock()
	defer m.Mu.Unlock()
	return m.Tariff, nil
}

func (m *Money) Balance(context.Context, int64, money.Currency) (money.Amount, time.Time, error) {
	m.Mu.Lock()
	defer m.Mu.Unlock()
	return m.Funds, time.Time{}, nil
}

func (m *Money) CreditPolicy(context.Context, int64) (bool, *money.Amount, error) {
	m.Mu.Lock()
	defer m.Mu.Unlock()
	return m.Prepaid, nil, nil
}

func (m *Money) Limits(context.Context, int64, int64) (authz.Limits, authz.Limits, error) {
	m.Mu.Lock()
	defer m.Mu.Unlock()
	return m.Tenant, authz.Limits{}, nil
}
