// Command switchboard is the Switchboard daemon and its administration
// commands. main only maps the error of Run to an exit status; the
// command tree is in commands.go and each command lives in a file of its
// own.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := exitCode(Run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr), os.Stderr)
	stop()
	os.Exit(code)
}

// exitCode reports err on stderr and returns the exit status, as
// exitStatusHelp documents it: 0 for success (help included), 2 for an
// invalid command line or configuration, 1 for any other failure.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "switchboard:", err)
	var ue *usageError
	var ce *ConfigError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "Run '%s -h' for usage.\n", join("switchboard", ue.cmd))
		return 2
	case errors.As(err, &ce):
		return 2
	}
	return 1
}
