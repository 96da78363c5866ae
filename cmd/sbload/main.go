// Command sbload is Switchboard's load tool: it seeds a store, starts the
// real HTTP handlers on a loopback port and measures requests per second and
// latency percentiles under concurrent load, on SQLite and PostgreSQL side
// by side in one run (these machines are shared and noisy, so only figures
// measured together are compared).
//
//	go run ./cmd/sbload api [-accounts 100000] [-tenants 1000] [-registrations 100000] \
//	    [-concurrency 8] [-duration 10s] [-postgres postgres://…]
//	go run ./cmd/sbload cdr [-calls 200000] [-rate 5000] [-steady 10m] [-query-rows 10000000] \
//	    [-postgres postgres://…]
//
// It sends traffic only to the loopback listener it starts, and stops by
// itself after -duration per scenario.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "sbload:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: sbload api|cdr [flags]")
	}
	switch args[0] {
	case "api":
		return runAPI(ctx, args[1:], out)
	case "cdr":
		return runCDR(ctx, args[1:], out)
	default:
		return fmt.Errorf("unknown scenario set %q (want api or cdr)", args[0])
	}
}
