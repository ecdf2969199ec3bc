package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	shexpand "mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/interp"
	"mvdan.cc/sh/v3/syntax"
)

// TestREADMECommands runs every shell block of README.md through a real shell interpreter
// (mvdan.cc/sh): the walkthrough block for real against the sample, every other block with
// cnpg-restore-gen parsing and validating its command line (flags, values, combinations)
// without touching a bucket or a forge. make targets must exist; go install must name this
// module. A README command that no longer works fails here.
func TestREADMECommands(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(string(readme), -1)
	if len(blocks) < 5 {
		t.Fatalf("found %d sh blocks in README.md", len(blocks))
	}
	makefile, err := os.ReadFile(filepath.Join("..", "..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	module := "github.com/cnpg-restore-gen/cnpg-restore-gen/cmd/cnpg-restore-gen"
	walked, validated := 0, 0
	for i, b := range blocks {
		script := b[1]
		walkthrough := strings.HasPrefix(script, "# walkthrough")
		f, err := syntax.NewParser(syntax.KeepComments(true)).Parse(strings.NewReader(script), fmt.Sprintf("README block %d", i))
		if err != nil {
			t.Fatalf("README block %d does not parse as shell: %v", i, err)
		}
		dir := t.TempDir()
		var out bytes.Buffer
		exec := func(next interp.ExecHandlerFunc) interp.ExecHandlerFunc {
			return func(ctx context.Context, args []string) error {
				hc := interp.HandlerCtx(ctx)
				switch {
				case args[0] == "cnpg-restore-gen":
					env := func(k string) string { return hc.Env.Get(k).String() }
					var code int
					if walkthrough {
						walked++
						code = runIn(hc.Dir, args[1:], env, &out)
					} else {
						validated++
						code = validateOnly(args[1:], env, &out)
					}
					if code != 0 {
						return interp.ExitStatus(code)
					}
					return nil
				case args[0] == "make":
					for _, target := range args[1:] {
						if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(target) + `:`).Match(makefile) {
							return fmt.Errorf("make %s: no such target in the Makefile", target)
						}
					}
					if walkthrough && len(args) == 2 && args[1] == "demo-files" {
						return runScript(hc.Dir, filepath.Join("..", "..", "hack", "demo-files.sh"), "demo")
					}
					return nil
				case args[0] == "go" && len(args) == 3 && args[1] == "install":
					if !strings.HasPrefix(args[2], module+"@") {
						return fmt.Errorf("go install %s: this module's command is %s", args[2], module)
					}
					return nil
				case args[0] == "git" && walkthrough:
					return next(ctx, args)
				}
				return fmt.Errorf("README block %d runs %q: add it to TestREADMECommands", i, args[0])
			}
		}
		r, err := interp.New(interp.Dir(dir), interp.Env(shexpand.ListEnviron(append(os.Environ(), "HOME="+dir)...)),
			interp.StdIO(nil, &out, &out), interp.ExecHandlers(exec))
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range f.Stmts {
			want := 0
			for _, c := range st.Comments {
				if strings.Contains(c.Text, "exit 3") {
					want = exitSafety
				}
			}
			out.Reset()
			err := r.Run(context.Background(), st)
			code := 0
			var es interp.ExitStatus
			switch {
			case errors.As(err, &es):
				code = int(es)
			case err != nil:
				t.Errorf("README block %d, line %d: %v", i, st.Pos().Line(), err)
				continue
			}
			if code != want {
				t.Errorf("README block %d, line %d: exit %d, want %d\n%s", i, st.Pos().Line(), code, want, out.String())
			}
		}
	}
	if walked < 5 || validated < 15 {
		t.Errorf("ran %d walkthrough and validated %d other cnpg-restore-gen commands: the README changed shape", walked, validated)
	}
	t.Logf("README: %d walkthrough commands run on the sample, %d other commands validated", walked, validated)
}

// runIn runs the CLI in process in dir (the walkthrough's relative paths).
func runIn(dir string, args []string, env func(string) string, out *bytes.Buffer) int {
	for i, a := range args {
		if strings.HasPrefix(a, "demo/") {
			args[i] = filepath.Join(dir, a)
		}
	}
	return run(context.Background(), args, &streams{Out: out, ErrOut: out, Getenv: env})
}

// validateOnly parses and validates a command line with every command's run replaced.
func validateOnly(args []string, env func(string) string, out *bytes.Buffer) int {
	s := &streams{Out: out, ErrOut: out, Getenv: env}
	root := newRootCmd(s)
	root.ResetCommands()
	cat := newCatalogCmd(s)
	cat.ResetCommands()
	cat.AddCommand(newCatalogListCmd(s, func(context.Context, *catalogListOptions) error { return nil }),
		newCatalogCheckCmd(s, func(context.Context, *catalogCheckOptions) error { return nil }))
	root.AddCommand(cat,
		newPlanCmd(s, func(context.Context, *planOptions) error { return nil }),
		newGenerateCmd(s, func(context.Context, *generateOptions) error { return nil }),
		newPRCmd(s, func(context.Context, *prOptions) error { return nil }),
		&cobra.Command{Use: "completion", RunE: func(*cobra.Command, []string) error { return nil }})
	root.SetArgs(args)
	err := root.Execute()
	if err != nil {
		fmt.Fprintf(out, "error: %v\n", err)
	}
	return exitCode(err)
}

func runScript(dir, script string, args ...string) error {
	abs, err := filepath.Abs(script)
	if err != nil {
		return err
	}
	cmd := exec.Command(abs, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w\n%s", script, err, out)
	}
	return nil
}
