package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/agnivade/levenshtein"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/redact"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/termsafe"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/restore"
)

// Exit codes (DESIGN.md): the only place they are decided.
const (
	exitOK     = 0
	exitError  = 1
	exitUsage  = 2
	exitSafety = 3
)

// streams are the command's I/O, injected so tests can capture them and pretend to be a TTY.
type streams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// ErrTTY says whether ErrOut is a terminal (progress is shown only there).
	ErrTTY bool
	// Getenv reads the environment (NO_COLOR and friends).
	Getenv func(string) string
	// Secrets are the credentials this run has seen; Out and ErrOut are scrubbed of them (run
	// sets it up).
	Secrets *redact.Set
	// OutWidth is the width of the terminal Out is, 0 when it is not one.
	OutWidth int
	// Progress is ErrOut without the escaping of control characters, for the progress line.
	Progress io.Writer
	// Prog is how the user called the tool: "kubectl cnpg-restore-gen" as a kubectl plugin,
	// else empty (cnpg-restore-gen).
	Prog string
}

func systemStreams() *streams {
	s := &streams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr, ErrTTY: isTerminal(os.Stderr), Getenv: os.Getenv}
	if w, _, err := term.GetSize(int(os.Stdout.Fd())); err == nil {
		s.OutWidth = w
	}
	// kubectl runs a plugin named kubectl-cnpg_restore_gen for `kubectl cnpg-restore-gen`.
	if strings.HasPrefix(filepath.Base(os.Args[0]), "kubectl-") {
		s.Prog = "kubectl cnpg-restore-gen"
	}
	return s
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// usageError is a mistake in the command line: exit 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// safetyError is a catalog or plan that failed a safety check: exit 3. The report explaining it
// has already been printed.
type safetyError struct{ msg string }

func (e safetyError) Error() string { return e.msg }

// redactErr removes the token from an error (a URL with credentials, a server echoing it).
func redactErr(err error, token string) error {
	if err == nil || token == "" || !strings.Contains(err.Error(), token) {
		return err
	}
	return redactedError{msg: redact.Values(err.Error(), token), err: err}
}

// afterWrite is an error after something was written (a branch pushed): it says what was.
type afterWrite struct {
	done string
	err  error
}

func (e afterWrite) Error() string { return e.done + ", but " + e.err.Error() }
func (e afterWrite) Unwrap() error { return e.err }

type redactedError struct {
	msg string
	err error
}

func (e redactedError) Error() string { return e.msg }
func (e redactedError) Unwrap() error { return e.err }

// exitCode maps an error to the process exit code.
func exitCode(err error) int {
	var u usageError
	var s safetyError
	var refused *restore.RefusedError
	var input *restore.InputError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &s), errors.As(err, &refused):
		return exitSafety
	case errors.As(err, &u), errors.As(err, &input):
		return exitUsage
	}
	return exitError
}

// run executes the CLI and returns the exit code; it prints each error once.
func run(ctx context.Context, args []string, s *streams) int {
	s = withSecrets(s, args)
	root := newRootCmd(s)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) {
		// Interrupted (Ctrl-C, SIGTERM): every writer is all or nothing, so nothing was written
		// — unless the error says what already was (a pushed branch).
		var aw afterWrite
		if errors.As(err, &aw) {
			err = fmt.Errorf("interrupted: %s; the pull request was not opened or updated (run again to finish)", aw.done)
		} else {
			err = errors.New("interrupted: nothing was written")
		}
	}
	if err != nil {
		fmt.Fprintf(s.ErrOut, "error: %s\n", err)
		if exitCode(err) == exitUsage {
			fmt.Fprintln(s.ErrOut, "Run with --help for usage.")
		}
	}
	return exitCode(err)
}

// credentialEnv are the variables whose values never appear in anything the tool writes.
var credentialEnv = []string{"GITHUB_TOKEN", "GH_TOKEN", "GITEA_TOKEN", "FORGEJO_TOKEN", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}

// withSecrets returns streams whose output is scrubbed of the credentials in the command line
// (user information in URLs) and in the environment; the commands add those they meet later
// (a checkout's remote, an endpoint from the repo's manifests, a token read from a file).
func withSecrets(s *streams, args []string) *streams {
	out := *s
	out.Secrets = &redact.Set{}
	out.Secrets.AddURLs(strings.Join(args, " "))
	if s.Getenv != nil {
		for _, n := range credentialEnv {
			out.Secrets.Add(s.Getenv(n))
		}
	}
	// Errors, warnings and notes on stderr carry names from the bucket and the repo: escaped.
	// Progress holds numbers only and needs the terminal's own controls.
	out.Out, out.Progress = out.Secrets.Writer(s.Out), out.Secrets.Writer(s.ErrOut)
	out.ErrOut = termsafe.Writer(out.Progress)
	return &out
}

func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	v := info.Main.Version
	for _, kv := range info.Settings {
		if kv.Key == "vcs.revision" && len(kv.Value) >= 12 {
			v += " (" + kv.Value[:12] + ")"
		}
	}
	return v + " " + info.GoVersion
}

// suggestFlag adds the closest flag names (two edits away at most, or the start of a name) to
// an unknown-flag error: cobra suggests commands, not flags.
func suggestFlag(c *cobra.Command, err error) error {
	name, ok := strings.CutPrefix(err.Error(), "unknown flag: --")
	if !ok {
		return err
	}
	var best []string
	bestD := 3 // at most two edits away
	c.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		d := levenshtein.ComputeDistance(name, f.Name)
		if len(name) >= 3 && strings.HasPrefix(f.Name, name) {
			d = 1 // --server for --server-name
		}
		switch {
		case d < bestD:
			best, bestD = []string{"--" + f.Name}, d
		case d == bestD:
			best = append(best, "--"+f.Name)
		}
	})
	if len(best) == 0 {
		return err
	}
	return fmt.Errorf("%w; did you mean %s?", err, strings.Join(best, " or "))
}

func newRootCmd(s *streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "cnpg-restore-gen",
		Short: "Turn a CloudNativePG restore into a reviewed pull request",
		Long: `cnpg-restore-gen reads a CloudNativePG cluster's barman-cloud backup catalog (S3 or a
local directory), decides what can be recovered, writes the restore into the GitOps repository
(the restored Cluster's kustomize overlay and the cutover) and opens the pull request that
performs it when merged.

  catalog list|check   what the bucket holds, and whether it can deliver a restore
  plan                 the backup and recovery target CloudNativePG will use, with safety checks
  generate             the restore as changes to a checkout of the GitOps repository
  pr                   the same on a branch, pushed, with the pull request opened or updated`,
		Version:       version(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(s.Out)
	root.SetErr(s.ErrOut)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		// "catalog chek --catalog X": the command is what is wrong, not the flag.
		if a := c.Flags().Args(); c.HasSubCommands() && len(a) > 0 {
			return unknownCommand(c, a[0])
		}
		return usageError{suggestFlag(c, err)}
	})
	asGroup(root)
	if s.Prog != "" {
		root.Annotations = map[string]string{cobra.CommandDisplayNameAnnotation: s.Prog}
	}
	root.AddCommand(newCatalogCmd(s), newPlanCmd(s, nil), newGenerateCmd(s, nil), newPRCmd(s, nil), newDoctorCmd(s, nil))
	return root
}

// asGroup makes a command that only holds subcommands print its help when called alone, and
// refuse anything else as an unknown command — a usage error (exit 2) with suggestions, as
// for unknown flags (cobra exits 0 for "catalog lsit" and 1 for "paln").
func asGroup(c *cobra.Command) {
	c.SuggestionsMinimumDistance = 2
	c.Args = func(c *cobra.Command, args []string) error {
		if len(args) > 0 {
			return unknownCommand(c, args[0])
		}
		return nil
	}
	c.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
}

func unknownCommand(c *cobra.Command, name string) error {
	msg := fmt.Sprintf("unknown command %q for %q", name, c.CommandPath())
	if s := c.SuggestionsFor(name); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	} else {
		var names []string
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() {
				names = append(names, sub.Name())
			}
		}
		msg += "; the commands are " + strings.Join(names, ", ")
	}
	return usageError{errors.New(msg)}
}
