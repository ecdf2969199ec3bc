package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"
	"sigs.k8s.io/yaml"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/generator"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/forge"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/overlays"
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
	var c repoConfig
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return nil, fmt.Errorf("%s: %w (the keys are strategy, newName, overlayDir, branch, base, forge, forgeURL, labels, reviewers, draft)", p, err)
	}
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
	if c.OverlayDir != "" && !fs.Changed("overlay-dir") && o.Phase != generator.PhaseCutover {
		o.OverlayDir = expand(c.OverlayDir, o.Namespace, o.Cluster, "")
		if _, err := overlays.SafeJoin(o.OverlayDir); err != nil {
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
