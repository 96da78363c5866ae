package rating_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/internal/rating"
)

// A deck read, compiled, a call priced and the limit a switch sets for a
// prepaid balance of 1.00.
func Example() {
	deck := `prefix,destination,price_per_minute,connect_fee,first_increment,next_increment
49,Germany,0.03,,60,60
4915,Germany Mobile,0.12,0.02,30,6
`
	rates, err := rating.ReadDeck(strings.NewReader(deck), rating.DeckOptions{})
	if err != nil {
		panic(err)
	}
	tariff, err := rating.Compile(rating.Plan{Name: "retail", Currency: "EUR", TimeZone: "Europe/Berlin",
		ChargeStep: money.MustParse("0.0001"), Rates: rates})
	if err != nil {
		panic(err)
	}
	start := time.Date(2026, 3, 4, 15, 0, 0, 0, time.UTC)
	c, err := tariff.Rate("+4915112345678", start, 95)
	if err != nil {
		panic(err)
	}
	fmt.Println(c.Rate.Destination, c.BilledSeconds, "s", c.Cost, c.Currency)
	secs, _, err := tariff.MaxDuration("4915112345678", start, money.MustParse("1.00"))
	fmt.Println(secs, "s", err)
	// Output:
	// Germany Mobile 96 s 0.212 EUR
	// 486 s <nil>
}
