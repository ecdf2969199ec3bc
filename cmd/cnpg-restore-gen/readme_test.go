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
	"sigs.k8s.io/yaml"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/testutil/golden"
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
		newDoctorCmd(s, func(context.Context, *doctorOptions) error { return nil }),
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

// TestCIWorkflowExamples runs the shell steps of docs/examples/*.yaml (GitHub and Gitea
// Actions) through the shell interpreter, expressions (${{ … }}) replaced by sample values,
// with cnpg-restore-gen validating its command line: the examples stay in step with the CLI.
func TestCIWorkflowExamples(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "docs", "examples", "*.yaml"))
	if len(files) < 4 {
		t.Fatalf("found %d workflow examples", len(files))
	}
	expr := regexp.MustCompile(`\$\{\{[^}]*\}\}`)
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var wf struct {
			Jobs map[string]struct {
				Steps []struct {
					Env map[string]string `json:"env"`
					Run string            `json:"run"`
				} `json:"steps"`
			} `json:"jobs"`
		}
		if err := yaml.Unmarshal(data, &wf); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		calls := 0
		for _, job := range wf.Jobs {
			for _, step := range job.Steps {
				if !strings.Contains(step.Run, "cnpg-restore-gen pr") && !strings.Contains(step.Run, "cnpg-restore-gen doctor") {
					continue
				}
				dir := t.TempDir()
				env := []string{"RUNNER_TEMP=" + dir, "GITHUB_OUTPUT=" + filepath.Join(dir, "output"), "HOME=" + t.TempDir(), "PATH=/usr/bin:/bin"}
				for k, v := range step.Env {
					v = expr.ReplaceAllStringFunc(v, func(e string) string {
						switch {
						case strings.Contains(e, "inputs.cluster"):
							return "auth/authentik-postgresql"
						case strings.Contains(e, "inputs.target_time"):
							return "2026-02-05T08:05:58Z"
						case strings.Contains(e, "CA_BUNDLE"):
							return "-----BEGIN CERTIFICATE-----"
						}
						return "secret-value"
					})
					env = append(env, k+"="+v)
				}
				script := expr.ReplaceAllString(step.Run, "https://git.example.com/")
				f, err := syntax.NewParser().Parse(strings.NewReader(script), file)
				if err != nil {
					t.Fatalf("%s: %v", file, err)
				}
				var out bytes.Buffer
				r, err := interp.New(interp.Env(shexpand.ListEnviron(env...)), interp.StdIO(nil, &out, &out),
					interp.ExecHandlers(func(next interp.ExecHandlerFunc) interp.ExecHandlerFunc {
						return func(ctx context.Context, args []string) error {
							if args[0] == "echo" || args[0] == "[" {
								return next(ctx, args)
							}
							if args[0] != "cnpg-restore-gen" {
								return fmt.Errorf("%s runs %q", file, args[0])
							}
							calls++
							if code := validateOnly(args[1:], func(string) string { return "" }, &out); code != 0 {
								return interp.ExitStatus(code)
							}
							return nil
						}
					}))
				if err != nil {
					t.Fatal(err)
				}
				for _, st := range f.Stmts {
					if err := r.Run(context.Background(), st); err != nil {
						t.Errorf("%s: line %d: %v\n%s", file, st.Pos().Line(), err, out.String())
					}
				}
			}
		}
		if calls < 1 {
			t.Errorf("%s: %d cnpg-restore-gen calls, want one or more", file, calls)
		}
		if strings.Contains(file, "doctor") {
			// On pull requests, and nightly against the bucket with credentials from secrets.
			var doc map[string]any
			_ = yaml.Unmarshal(data, &doc)
			on, _ := doc["on"].(map[string]any)
			if on == nil {
				on, _ = doc["true"].(map[string]any) // YAML 1.1 reads the key on as a boolean
			}
			_, pullRequest := on["pull_request"]
			schedule, _ := on["schedule"].([]any)
			nightly := false
			for _, job := range wf.Jobs {
				for _, step := range job.Steps {
					nightly = nightly || strings.Contains(step.Run, "--catalog-checks") && strings.Contains(step.Env["AWS_SECRET_ACCESS_KEY"], "secrets.")
				}
			}
			if !pullRequest || len(schedule) == 0 || !nightly {
				t.Errorf("%s: want doctor on pull_request and on a schedule, with --catalog-checks and the credentials from secrets", file)
			}
		}
	}
}

// TestHelpExamplesWork runs every command's --help examples through the shell interpreter
// with cnpg-restore-gen validating its command line: the examples that teach the tool stay
// true to it.
func TestHelpExamplesWork(t *testing.T) {
	root := newRootCmd(&streams{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}, Getenv: func(string) string { return "" }})
	var cmds []*cobra.Command
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		cmds = append(cmds, c)
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
	checked := 0
	for _, c := range cmds {
		if c.Example == "" {
			continue
		}
		f, err := syntax.NewParser(syntax.KeepComments(true)).Parse(strings.NewReader(c.Example), c.CommandPath())
		if err != nil {
			t.Fatalf("%s: the examples don't parse as shell: %v", c.CommandPath(), err)
		}
		var out bytes.Buffer
		r, err := interp.New(interp.Env(shexpand.ListEnviron("HOME="+t.TempDir(), "PATH=/usr/bin:/bin")), interp.StdIO(nil, &out, &out),
			interp.ExecHandlers(func(next interp.ExecHandlerFunc) interp.ExecHandlerFunc {
				return func(ctx context.Context, args []string) error {
					switch args[0] {
					case "cnpg-restore-gen":
						checked++
						if code := validateOnly(args[1:], func(string) string { return "" }, &out); code != 0 {
							return interp.ExitStatus(code)
						}
						return nil
					case "cat":
						return nil // $(cat ~/.config/token): the token's value does not matter here
					}
					return fmt.Errorf("%s: an example runs %q", c.CommandPath(), args[0])
				}
			}))
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range f.Stmts {
			out.Reset()
			if err := r.Run(context.Background(), st); err != nil {
				t.Errorf("%s: the example on line %d fails: %v\n%s", c.CommandPath(), st.Pos().Line(), err, out.String())
			}
		}
	}
	if checked < 10 {
		t.Errorf("checked %d examples", checked)
	}
}

// TestREADMEWhatYouGetIsThePullRequest: the README's "What you get" shows the pull request
// `make demo` opens: each table row it quotes is a row of that body, the title is its title,
// and the Mermaid chart is its chart, byte for byte (the golden of
// TestPRDryRunPrintsBranchDiffAndBodyAndTouchesNothing is that body, from the same sample).
func TestREADMEWhatYouGetIsThePullRequest(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile(filepath.Join(golden.Dir(), "cli", "TestPRDryRunPrintsBranchDiffAndBodyAndTouchesNothing.md"))
	if err != nil {
		t.Fatal(err)
	}
	section := string(readme)
	start := strings.Index(section, "## What you get")
	if start < 0 {
		t.Fatal("README has no \"What you get\"")
	}
	section = section[start:]
	section = section[:strings.Index(section[3:], "\n## ")+3]
	rows := 0
	for _, line := range strings.Split(section, "\n") {
		switch {
		case strings.HasPrefix(line, "> | "):
			rows++
			if !strings.Contains(string(body), strings.TrimPrefix(line, "> ")+"\n") {
				t.Errorf("README row is not in the pull request: %s", line)
			}
		case strings.HasPrefix(line, "> **Restore "):
			title := strings.TrimSuffix(strings.TrimPrefix(line, "> **"), "**")
			if !strings.Contains(string(body), "## "+title+"\n") {
				t.Errorf("README title %q is not the pull request's", title)
			}
		}
	}
	chart := func(s string) string {
		i := strings.Index(s, "```mermaid\n")
		if i < 0 {
			return ""
		}
		j := strings.Index(s[i+11:], "```")
		return s[i : i+11+j]
	}
	if rows < 3 || chart(section) == "" || chart(section) != chart(string(body)) {
		t.Errorf("README's chart is not the pull request's (%d rows checked):\n%s\nwant:\n%s", rows, chart(section), chart(string(body)))
	}
}
