package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// command is one node of the command tree: a leaf runs, a group hands its
// arguments to one of its subcommands. The tree is the single source of
// the usage texts: a group's help lists its subcommands, the root's every
// leaf, one line each.
type command struct {
	name    string // as typed after the parent's name
	summary string // its line in the parent's list
	about   string // a group's text above the list
	run     func(ctx context.Context, args, env []string, stdout, stderr io.Writer) error
	subs    []*command
	// def runs when the group is given no subcommand, or flags first
	// (the root's serve, so "switchboard --http-listen …" is the daemon).
	def string
}

// root is the whole command line.
var root = &command{
	name: "switchboard",
	about: `Switchboard provisions SIP accounts on Asterisk and FreeSWITCH, stores their CDRs,
and reports presence and SIP reachability.

Usage:
  switchboard [serve] [flags]        run the daemon (serve is the default)
  switchboard COMMAND [arguments]`,
	def: "serve",
	subs: []*command{
		{name: "serve", summary: "run the daemon (the default when no command is given)", run: runServe},
		{name: "migrate", summary: "apply the database migrations and exit", run: runMigrate},
		{name: "token", summary: "manage API tokens", about: `Usage: switchboard token COMMAND [flags]

token manages API tokens directly in the store, so that the first admin token can be
made before any API call is possible.`, subs: []*command{
			{name: "create", summary: "create an API token and print its secret, once", run: runTokenCreate},
			{name: "list", summary: "list API tokens (never their secrets)", run: runTokenList},
			{name: "revoke", summary: "revoke an API token", run: runTokenRevoke},
		}},
		{name: "cdr", summary: "import and export CDRs", about: `Usage: switchboard cdr COMMAND [flags]`, subs: []*command{
			{name: "import", summary: "import CDR files written by Asterisk or FreeSWITCH", run: runCDRImport},
			{name: "export", summary: "write stored CDRs to standard output as CSV", run: runCDRExport},
		}},
		{name: "rerate", summary: "price the CDRs of a period again with the current tariffs and adjust the balances", run: runRerate},
		{name: "doctor", summary: "check a live switch against what Switchboard needs of it", run: runDoctor},
		{name: "version", summary: "print the version", run: runVersion},
	},
}

// Run runs the command line args (without the program name). Help
// (-h, --help, help) prints to stdout and returns nil; an invalid command
// line returns a *usageError.
func Run(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	err := root.dispatch(ctx, "", args, env, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

// dispatch runs c with args; path is c's name as typed ("" for the root,
// "token" for the token group).
func (c *command) dispatch(ctx context.Context, path string, args, env []string, stdout, stderr io.Writer) error {
	if c.run != nil {
		return c.run(ctx, args, env, stdout, stderr)
	}
	if c.def != "" && (len(args) == 0 || strings.HasPrefix(args[0], "-") && !isHelp(args[0])) {
		return c.sub(c.def).dispatch(ctx, join(path, c.def), args, env, stdout, stderr)
	}
	if len(args) == 0 {
		return &usageError{cmd: path, err: fmt.Errorf("missing subcommand: %s", c.names())}
	}
	if args[0] == "help" && len(args) > 1 { // "help token create" is "token create -h"
		return c.dispatch(ctx, path, append(args[1:len(args):len(args)], "-h"), env, stdout, stderr)
	}
	if isHelp(args[0]) || args[0] == "help" {
		c.usage(stdout, path)
		return flag.ErrHelp
	}
	sub := c.sub(args[0])
	if sub == nil {
		if path == "" {
			return &usageError{err: fmt.Errorf("unknown command %q", args[0])}
		}
		return &usageError{cmd: path, err: fmt.Errorf("unknown subcommand %q: %s", args[0], c.names())}
	}
	return sub.dispatch(ctx, join(path, sub.name), args[1:], env, stdout, stderr)
}

func (c *command) sub(name string) *command {
	for _, s := range c.subs {
		if s.name == name {
			return s
		}
	}
	return nil
}

// names lists a group's subcommands for an error message.
func (c *command) names() string {
	var ns []string
	for _, s := range c.subs {
		ns = append(ns, s.name)
	}
	return "want " + strings.Join(ns[:len(ns)-1], ", ") + " or " + ns[len(ns)-1]
}

// usage prints a group's help: its text, then its commands, one line each
// (the root lists every leaf with its full name).
func (c *command) usage(w io.Writer, path string) {
	type line struct{ name, summary string }
	var lines []line
	var walk func(prefix string, cs []*command)
	walk = func(prefix string, cs []*command) {
		for _, s := range cs {
			if s.run == nil && path == "" {
				walk(join(prefix, s.name), s.subs)
				continue
			}
			lines = append(lines, line{join(prefix, s.name), s.summary})
		}
	}
	walk("", c.subs)
	if path == "" {
		lines = append(lines, line{"help", "print a command's usage: switchboard help COMMAND"})
	}
	width := 0
	for _, l := range lines {
		width = max(width, len(l.name))
	}
	fmt.Fprintf(w, "%s\n\nCommands:\n", c.about)
	for _, l := range lines {
		fmt.Fprintf(w, "  %-*s  %s\n", width, l.name, l.summary)
	}
	fmt.Fprintf(w, "\nRun \"%s COMMAND -h\" for a command's flags.\n", join("switchboard", path))
	if path == "" {
		fmt.Fprint(w, exitStatusHelp)
	}
}

// exitStatusHelp documents the exit status; exitCode implements it.
const exitStatusHelp = `
Exit status: 0 on success and for help; 1 when the command failed (the database is
unreachable, a file unreadable, a CDR rejected, a token not found, a doctor check
FAILed); 2 when the command line or the configuration is invalid, in which case nothing
was done.
`

func isHelp(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }

func join(path, name string) string { return strings.TrimSpace(path + " " + name) }

// usageError is a command line that cannot run: an unknown command or
// flag, a missing or invalid argument. It exits with status 2, and
// nothing was done.
type usageError struct {
	cmd string // the command as typed, "cdr import"; "" for the root
	err error
}

func (e *usageError) Error() string {
	if e.cmd == "" {
		return e.err.Error()
	}
	return e.cmd + ": " + e.err.Error()
}

func (e *usageError) Unwrap() error { return e.err }

// usagef returns a *usageError of command cmd.
func usagef(cmd, format string, args ...any) error {
	return &usageError{cmd: cmd, err: fmt.Errorf(format, args...)}
}

// newFlagSet returns the flag set of a leaf command (name as typed, "token
// create"). Its usage is the synopsis, the text about the command and its
// flags, printed by parseFlags.
func newFlagSet(name, synopsis, about string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parseFlags reports errors; -h prints to stdout
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: %s\n", join("switchboard "+name, synopsis))
		if about != "" {
			fmt.Fprintf(w, "\n%s\n", about)
		}
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintln(w, "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses args with fs. -h prints the command's usage on stdout
// and returns flag.ErrHelp, which Run turns into success; a bad flag
// returns a *usageError.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(stdout)
		fs.Usage()
		return err
	case err != nil:
		return &usageError{cmd: fs.Name(), err: err}
	}
	return nil
}

// noArgs refuses positional arguments left after the flags.
func noArgs(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return usagef(fs.Name(), "unexpected argument %q", fs.Arg(0))
	}
	return nil
}
