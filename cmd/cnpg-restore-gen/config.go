package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/agnivade/levenshtein"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/generator"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/fileset"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/forge"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/plan"
)

// configFile is read from the root of the GitOps repository.
const configFile = ".cnpg-restore-gen.yaml"

// repoConfig is a team's conventions, set once in the GitOps repository: every field is the
// default of the flag of the same name, and a flag given on the command line wins. Names may
// use {namespace} and {cluster}; the branch also {backup}.
type repoConfig struct {
	Strategy   string   `json:"strategy,omitempty"`
	NewName    string   `json:"newName,omitempty"`
	OverlayDir string   `json:"overlayDir,omitempty"`
	Branch     string   `json:"branch,omitempty"`
	Base       string   `json:"base,omitempty"`
	Forge      string   `json:"forge,omitempty"`
	ForgeURL   string   `json:"forgeURL,omitempty"`
	Labels     []string `json:"labels,omitempty"`
	Reviewers  []string `json:"reviewers,omitempty"`
	Draft      *bool    `json:"draft,omitempty"`
	// Verify are the team's checks of restored data, run by every restore's verification Job
	// unless --verify-sql is given.
	Verify []generator.Assertion `json:"verify,omitempty"`
}

// loadConfig reads dir/.cnpg-restore-gen.yaml; a missing file is an empty configuration.
func loadConfig(dir string) (*repoConfig, error) {
	p := filepath.Join(dir, configFile)
	st, err := os.Lstat(p)
	if errors.Is(err, os.ErrNotExist) {
		return &repoConfig{}, nil
	}
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		// A symlink could make the repository's conventions come from anywhere on this machine.
		return nil, fmt.Errorf("%s is not a regular file (a symlink or a device): it is not read; make it a file in the repository", p)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	cp, err := decodeConfig(p, data)
	if err != nil {
		return nil, err
	}
	c := *cp
	switch c.Strategy {
	case "", plan.SideBySide, plan.InPlace:
	default:
		return nil, fmt.Errorf("%s: strategy %q is not %s or %s", p, c.Strategy, plan.SideBySide, plan.InPlace)
	}
	switch c.Forge {
	case "", forge.GitHub, forge.Gitea, forge.None:
	default:
		return nil, fmt.Errorf("%s: forge %q is not github, gitea or none", p, c.Forge)
	}
	return &c, nil
}

// expand fills {namespace}, {cluster} and {backup} in a configured name.
func expand(s, namespace, cluster, backup string) string {
	return strings.NewReplacer("{namespace}", namespace, "{cluster}", cluster, "{backup}", backup).Replace(s)
}

// applyGenerate sets what generate and pr share, where no flag was given.
func (c *repoConfig) applyGenerate(o *generateOptions, fs *pflag.FlagSet) error {
	if c.Strategy != "" && !fs.Changed("strategy") {
		o.Strategy = c.Strategy
	}
	if c.NewName != "" && !fs.Changed("new-name") {
		o.NewName = expand(c.NewName, o.Namespace, o.Cluster, "")
		if !dnsLabel(o.NewName) {
			return fmt.Errorf("%s: newName %q gives %q, not a valid cluster name", configFile, c.NewName, o.NewName)
		}
	}
	if len(c.Verify) > 0 && !fs.Changed("verify-sql") && !o.NoVerify {
		o.assertions = c.Verify
	}
	if c.OverlayDir != "" && !fs.Changed("overlay-dir") && o.Phase != generator.PhaseCutover {
		o.OverlayDir = expand(c.OverlayDir, o.Namespace, o.Cluster, "")
		if _, err := fileset.RelPath(o.OverlayDir); err != nil {
			return fmt.Errorf("%s: overlayDir: %w", configFile, err)
		}
	}
	return nil
}

// applyPR sets the pull request's conventions, where no flag was given. base, forge and
// forgeURL apply when the configuration is read before the remote is (a checkout).
func (c *repoConfig) applyPR(o *prOptions, fs *pflag.FlagSet, remoteKnown bool) {
	if !remoteKnown {
		if c.Base != "" && !fs.Changed("base") {
			o.Base = c.Base
		}
		if c.Forge != "" && !fs.Changed("forge") {
			o.Forge = c.Forge
		}
		if c.ForgeURL != "" && o.ForgeURL == "" {
			o.ForgeURL, o.forgeURLFromRepo = c.ForgeURL, true
		}
	}
	if len(c.Labels) > 0 && !fs.Changed("label") {
		o.Labels = c.Labels
	}
	if len(c.Reviewers) > 0 && !fs.Changed("reviewer") {
		o.Reviewers = c.Reviewers
	}
	if c.Draft != nil && !fs.Changed("draft") {
		o.Draft = *c.Draft
	}
	if c.Branch != "" && !fs.Changed("branch") {
		o.branchTemplate = c.Branch
	}
}

// configKeys are the settings the file takes, in the order the errors list them.
var configKeys = []string{"strategy", "newName", "overlayDir", "branch", "base", "forge", "forgeURL", "labels", "reviewers", "draft", "verify"}

// decodeConfig reads the file's settings, with errors in the file's own terms — file:line, the
// key, what it expects and what it found — rather than a decoder's; keys match exactly.
func decodeConfig(p string, data []byte) (*repoConfig, error) {
	c := &repoConfig{}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: not valid YAML: %w", p, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return c, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: expected settings, one per line (strategy: side-by-side, labels: [restore], …), got %s", p, root.Line, kindOf(root))
	}
	strs := map[string]*string{"strategy": &c.Strategy, "newName": &c.NewName, "overlayDir": &c.OverlayDir, "branch": &c.Branch,
		"base": &c.Base, "forge": &c.Forge, "forgeURL": &c.ForgeURL}
	lists := map[string]*[]string{"labels": &c.Labels, "reviewers": &c.Reviewers}
	seen := map[string]int{}
	var err error
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		where := fmt.Sprintf("%s:%d: %s", p, k.Line, k.Value)
		if first, dup := seen[k.Value]; dup {
			return nil, fmt.Errorf("%s is set twice (first on line %d)", where, first)
		}
		seen[k.Value] = k.Line
		switch {
		case strs[k.Value] != nil:
			if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
				return nil, fmt.Errorf("%s: expected a string, got %s", where, kindOf(v))
			}
			*strs[k.Value] = v.Value
		case lists[k.Value] != nil:
			if v.Kind != yaml.SequenceNode {
				return nil, fmt.Errorf("%s: expected a list of strings, got %s (write %s: [%s], or one \"- item\" per line)", where, kindOf(v), k.Value, v.Value)
			}
			for _, item := range v.Content {
				if item.Kind != yaml.ScalarNode || item.Tag == "!!null" {
					return nil, fmt.Errorf("%s: expected a list of strings, got a list holding %s (line %d)", where, kindOf(item), item.Line)
				}
				*lists[k.Value] = append(*lists[k.Value], item.Value)
			}
		case k.Value == "verify":
			if c.Verify, err = decodeVerify(where, v); err != nil {
				return nil, err
			}
		case k.Value == "draft":
			var b bool
			if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" || v.Decode(&b) != nil {
				return nil, fmt.Errorf("%s: expected true or false, got %s", where, kindOf(v))
			}
			c.Draft = &b
		default:
			hint := ""
			for _, known := range configKeys {
				if strings.EqualFold(known, k.Value) || levenshtein.ComputeDistance(known, k.Value) <= 2 {
					hint = fmt.Sprintf("; did you mean %s?", known)
					break
				}
			}
			return nil, fmt.Errorf("%s:%d: unknown key %q%s (the keys are %s)", p, k.Line, k.Value, hint, strings.Join(configKeys, ", "))
		}
	}
	return c, nil
}

// kindOf says what a node is, in words.
func kindOf(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.AliasNode:
		return "an alias"
	}
	switch n.Tag {
	case "!!null":
		return "nothing"
	case "!!bool":
		return "true/false"
	case "!!int", "!!float":
		return "a number (" + n.Value + ")"
	}
	return fmt.Sprintf("a string (%q)", n.Value)
}

// decodeVerify reads verify:, a list of checks: {name, sql, expect, database}.
func decodeVerify(where string, v *yaml.Node) ([]generator.Assertion, error) {
	if v.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%s: expected a list of checks (- name: users / sql: SELECT count(*) >= 5 FROM users), got %s", where, kindOf(v))
	}
	var out []generator.Assertion
	for i, item := range v.Content {
		if item.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("%s: check %d (line %d): expected name and sql, got %s", where, i+1, item.Line, kindOf(item))
		}
		a := generator.Assertion{Name: fmt.Sprintf("sql-%d", i+1)}
		fields := map[string]*string{"name": &a.Name, "sql": &a.SQL, "expect": &a.Expect, "database": &a.Database}
		for j := 0; j+1 < len(item.Content); j += 2 {
			k, val := item.Content[j], item.Content[j+1]
			f, ok := fields[k.Value]
			if !ok {
				return nil, fmt.Errorf("%s: check %d, line %d: unknown key %q (a check has name, sql, expect and database)", where, i+1, k.Line, k.Value)
			}
			if val.Kind != yaml.ScalarNode || val.Tag == "!!null" {
				return nil, fmt.Errorf("%s: check %d, line %d: %s: expected a string, got %s", where, i+1, k.Line, k.Value, kindOf(val))
			}
			*f = val.Value
		}
		if err := a.Check(); err != nil {
			return nil, fmt.Errorf("%s: check %d (line %d): %w", where, i+1, item.Line, err)
		}
		out = append(out, a)
	}
	return out, nil
}
