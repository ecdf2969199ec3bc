package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestTyposGetSuggestions(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"pln"}, `unknown command "pln" for "cnpg-restore-gen"; did you mean plan or pr?`},
		{[]string{"plan", "--clster", "auth/pg"}, "unknown flag: --clster; did you mean --cluster?"},
		{[]string{"generate", "--dryrun"}, "did you mean --dry-run?"},
		{[]string{"catalog", "list", "--server", "x"}, "did you mean --server-name?"},
	} {
		_, errOut, code := execute(t, tc.args...)
		if code == exitOK || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d\n%s\nwant %q", tc.args, code, errOut, tc.want)
		}
	}
	if _, errOut, _ := execute(t, "plan", "--zzzzzzzz"); strings.Contains(errOut, "did you mean") {
		t.Errorf("a far-off flag got a suggestion: %s", errOut)
	}
}

func TestCompletionAndVersion(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish", "powershell"} {
		out, errOut, code := execute(t, "completion", sh)
		if code != exitOK || !strings.Contains(out, "cnpg-restore-gen") || len(out) < 1000 {
			t.Errorf("completion %s: exit %d, %d bytes\n%s", sh, code, len(out), errOut)
		}
	}
	// Completion of a flag value works through cobra's __complete.
	out, _, code := execute(t, "__complete", "generate", "--phase", "")
	if code != exitOK || !strings.Contains(out, ":") {
		t.Errorf("__complete: exit %d\n%s", code, out)
	}
	out, _, code = execute(t, "--version")
	if code != exitOK || !strings.HasPrefix(out, "cnpg-restore-gen version ") || !strings.Contains(out, "go1.") {
		t.Errorf("--version: exit %d %q", code, out)
	}
}

// TestKubectlPlugin: installed as kubectl-cnpg_restore_gen, the tool calls itself
// "kubectl cnpg-restore-gen" in its help.
func TestKubectlPlugin(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "kubectl-cnpg_restore_gen")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(context.Background(), bin, "plan", "--help")
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "kubectl cnpg-restore-gen plan [flags]") {
		t.Errorf("plugin help:\n%s", out.String())
	}
}

// TestUnknownCommandsAreUsageErrors: a mistyped command is a usage error (exit 2) with a
// suggestion, like a mistyped flag, and is named before any flag after it.
func TestUnknownCommandsAreUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"catalog", "lsit"}, exitUsage, `unknown command "lsit" for "cnpg-restore-gen catalog"; did you mean list?`},
		{[]string{"paln"}, exitUsage, `unknown command "paln" for "cnpg-restore-gen"; did you mean plan?`},
		{[]string{"catalog", "chek", "--catalog", "/x"}, exitUsage, `unknown command "chek" for "cnpg-restore-gen catalog"; did you mean check?`},
		{[]string{"restore"}, exitUsage, "the commands are catalog, completion, doctor, generate, plan, pr"},
		{[]string{"catalog"}, exitOK, ""},
		{[]string{}, exitOK, ""},
	}
	for _, tc := range cases {
		out, errOut, code := execute(t, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args, code, errOut, tc.code, tc.want)
		}
		if tc.code == exitOK && !strings.Contains(out, "Usage:") {
			t.Errorf("%v: no help printed:\n%s", tc.args, out)
		}
	}
}

// TestExitCodeTable: every command, every kind of mistake a person makes at the command line:
// an unknown flag, a stray argument, a missing required flag, a bad value — exit 2 each, with
// "Run with --help" — and a mistyped command.
func TestExitCodeTable(t *testing.T) {
	commands := map[string][]string{
		"catalog list":  {"catalog", "list", "--catalog", "/x", "--server-name", "pg"},
		"catalog check": {"catalog", "check", "--catalog", "/x", "--server-name", "pg"},
		"plan":          {"plan", "--catalog", "/x", "--cluster", "auth/pg"},
		"generate":      {"generate", "--repo", ".", "--catalog", "/x", "--cluster", "auth/pg"},
		"pr":            {"pr", "--repo", ".", "--catalog", "/x", "--cluster", "auth/pg"},
	}
	required := map[string][]string{ // the args without their required flag
		"catalog list":  {"catalog", "list", "--server-name", "pg"},
		"catalog check": {"catalog", "check", "--server-name", "pg"},
		"plan":          {"plan", "--catalog", "/x"},
		"generate":      {"generate", "--catalog", "/x", "--cluster", "auth/pg"},
		"pr":            {"pr", "--catalog", "/x", "--cluster", "auth/pg"},
	}
	for name, ok := range commands {
		mistakes := map[string][]string{
			"unknown flag":   append(append([]string{}, ok...), "--bogus"),
			"stray argument": append(append([]string{}, ok...), "extra"),
			"missing flag":   required[name],
			"bad value":      append(append([]string{}, ok...), "--timeout", "0s"),
			"bad output":     append(append([]string{}, ok...), "-o", "xml"),
		}
		for what, args := range mistakes {
			_, errOut, code := execute(t, args...)
			if code != exitUsage || !strings.Contains(errOut, "Run with --help for usage.") {
				t.Errorf("%s, %s (%v): exit %d, want %d\n%s", name, what, args, code, exitUsage, errOut)
			}
		}
	}
	for _, args := range [][]string{{"catalog", "lsit"}, {"paln"}, {"generat", "--repo", "."}} {
		if _, _, code := execute(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
}
