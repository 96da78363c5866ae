// Command switchboard is the Switchboard daemon and its administration
// commands. main only maps the error of Run to an exit code; each
// subcommand lives in a file of its own.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := Run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "switchboard:", err)
		os.Exit(1)
	}
}

const usage = `Usage: switchboard [command] [flags]

Commands:
  serve      run the daemon (the default when no command is given)
  migrate    apply database migrations and exit
  token      create, list or revoke API tokens
  cdr        import CDR files from a switch, or export CDRs as CSV
  version    print the version

Run "switchboard COMMAND -h" for a command's flags.
`

// Run runs the subcommand named by args[0] (serve when absent or a flag).
func Run(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return runServe(ctx, args, env, stderr)
	case "migrate":
		return runMigrate(ctx, args, env, stdout, stderr)
	case "token":
		return runToken(ctx, args, env, stdout, stderr)
	case "cdr":
		return runCDR(ctx, args, env, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, versionString())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("switchboard "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}
