// Package forge opens and updates the restore's pull request on GitHub (go-github) or
// Gitea/Forgejo (the Gitea SDK), behind one small interface. Every client goes through Retry,
// which honours rate limits and Retry-After and retries transient failures.
package forge

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/redact"
)

// Forges.
const (
	GitHub = "github"
	Gitea  = "gitea"
	None   = "none"
)

// PullRequest is a pull request as the tool sees it.
type PullRequest struct {
	Number int64    `json:"number"`
	URL    string   `json:"url"`
	Head   string   `json:"head"`
	Base   string   `json:"base"`
	Title  string   `json:"title"`
	Body   string   `json:"-"`
	Draft  bool     `json:"draft"`
	Labels []string `json:"labels,omitempty"`
	// Reviewers are asked for a review when the pull request is opened.
	Reviewers []string `json:"reviewers,omitempty"`
}

// Forge is what the tool needs of a forge.
type Forge interface {
	// Open lists the open pull requests from branch head into base, oldest first.
	Open(ctx context.Context, head, base string) ([]*PullRequest, error)
	// Create opens a pull request; ErrExists when one is already open for the branch.
	Create(ctx context.Context, pr PullRequest) (*PullRequest, error)
	// Update rewrites the title, body and labels of pull request number.
	Update(ctx context.Context, number int64, pr PullRequest) (*PullRequest, error)
	// Close closes pull request number without merging it.
	Close(ctx context.Context, number int64) error
}

// ErrExists is Create's error when the branch already has an open pull request.
var ErrExists = errors.New("a pull request for this branch is already open")

// Outcomes of Ensure.
const (
	Created   = "created"
	Updated   = "updated"
	Unchanged = "unchanged"
)

// Ensure makes the forge hold exactly one open pull request for want.Head with want's title,
// body and labels: it creates it, updates it, or leaves it alone when it already matches.
//
// Two runs at once may both find none and both create one: a forge answers the second create
// with "already exists" (then this run updates the other's), or — Gitea checks and inserts in
// two steps — opens two. So after creating, Ensure lists again and keeps the oldest: a run
// whose pull request is not the oldest closes its own and adopts the other.
func Ensure(ctx context.Context, f Forge, want PullRequest) (*PullRequest, string, error) {
	open, err := f.Open(ctx, want.Head, want.Base)
	if err != nil {
		return nil, "", err
	}
	if len(open) == 0 {
		pr, err := f.Create(ctx, want)
		switch {
		case errors.Is(err, ErrExists):
		case err != nil:
			return nil, "", err
		}
		if open, err = f.Open(ctx, want.Head, want.Base); err != nil {
			return nil, "", err
		}
		if len(open) == 0 {
			if pr != nil {
				return pr, Created, nil // not listed yet
			}
			return nil, "", fmt.Errorf("the forge says a pull request for %s exists but lists none open: look for a closed one and reopen or delete it", want.Head)
		}
		if pr != nil && open[0].Number == pr.Number {
			return pr, Created, nil
		}
		if pr != nil {
			// Another run opened one first: ours is the duplicate.
			if err := f.Close(ctx, pr.Number); err != nil {
				return nil, "", fmt.Errorf("closing pull request #%d, a duplicate of #%d opened by another run at the same time: %w", pr.Number, open[0].Number, err)
			}
		}
	}
	have := open[0]
	if same(have, want) {
		return have, Unchanged, nil
	}
	pr, err := f.Update(ctx, have.Number, want)
	if err != nil {
		return nil, "", err
	}
	return pr, Updated, nil
}

// AwaitOpen waits up to within for an open pull request from head into base to appear: a run
// that lost the push race to an identical run lets that run open it, rather than racing it on
// the forge too.
func AwaitOpen(ctx context.Context, f Forge, head, base string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		open, err := f.Open(ctx, head, base)
		if err != nil || len(open) > 0 || time.Now().After(deadline) {
			return err
		}
		if err := timerSleep(ctx, 250*time.Millisecond); err != nil {
			return err
		}
	}
}

func same(have *PullRequest, want PullRequest) bool {
	if strings.TrimSpace(normalize(have.Body)) != strings.TrimSpace(normalize(want.Body)) || strings.TrimSpace(have.Title) != strings.TrimSpace(want.Title) {
		return false
	}
	for _, l := range want.Labels {
		if !slices.Contains(have.Labels, l) {
			return false
		}
	}
	return true
}

func normalize(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }

// Repo is a repository on a forge, read from its Git remote URL.
type Repo struct {
	// Host is host[:port]; Scheme http or https (ssh remotes map to https).
	Host, Scheme string
	// Prefix is the path before owner/name ("" unless the forge is served under a path).
	Prefix      string
	Owner, Name string
}

// ParseRemote reads a Git remote URL: https://host/owner/name(.git), ssh://git@host/owner/name,
// git@host:owner/name.git.
func ParseRemote(remote string) (Repo, error) {
	s := remote
	if !strings.Contains(s, "://") {
		if at := strings.Index(s, "@"); at >= 0 {
			if colon := strings.Index(s[at:], ":"); colon > 0 {
				s = "ssh://" + s[:at+colon] + "/" + s[at+colon+1:]
			}
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return Repo{}, fmt.Errorf("remote %q is not a forge URL (https://host/owner/repo or git@host:owner/repo): pass --forge none, or push to a forge", redact.URL(remote))
	}
	p := strings.Trim(strings.TrimSuffix(strings.Trim(u.Path, "/"), ".git"), "/")
	parts := strings.Split(p, "/")
	if len(parts) < 2 || parts[len(parts)-1] == "" || parts[len(parts)-2] == "" {
		return Repo{}, fmt.Errorf("remote %s does not end in OWNER/REPO", redact.URL(remote))
	}
	r := Repo{Host: u.Host, Scheme: u.Scheme, Owner: parts[len(parts)-2], Name: parts[len(parts)-1], Prefix: path.Join(parts[:len(parts)-2]...)}
	if r.Scheme != "http" {
		r.Scheme = "https"
		if h := u.Hostname(); u.Scheme == "ssh" {
			r.Host = h // the SSH port is not the web port
		}
	}
	return r, nil
}

// WebRoot is the forge's web root, e.g. https://gitea.example.com/ (Gitea's API is under it).
func (r Repo) WebRoot() string {
	u := url.URL{Scheme: r.Scheme, Host: r.Host, Path: "/"}
	if r.Prefix != "" {
		u.Path = "/" + r.Prefix + "/"
	}
	return u.String()
}

// Detect names the forge of a remote: github.com is GitHub; a host whose name says gitea,
// forgejo or codeberg is Gitea; anything else must be named with --forge.
func Detect(r Repo) (string, error) {
	h := strings.ToLower(r.Host)
	switch {
	case h == "github.com" || strings.HasSuffix(h, ".github.com"):
		return GitHub, nil
	case strings.Contains(h, "gitea") || strings.Contains(h, "forgejo") || strings.Contains(h, "codeberg"):
		return Gitea, nil
	}
	return "", fmt.Errorf("can't tell which forge %s is: pass --forge github (GitHub Enterprise, with --forge-url), --forge gitea (Gitea, Forgejo) or --forge none", r.Host)
}

func sortByNumber(prs []*PullRequest) {
	slices.SortFunc(prs, func(a, b *PullRequest) int { return int(a.Number - b.Number) })
}
