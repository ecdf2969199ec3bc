package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"code.gitea.io/sdk/gitea"
)

// GiteaClient is a Forge on Gitea or Forgejo.
type GiteaClient struct {
	c           *gitea.Client
	owner, repo string
	where       string
}

// draftPrefix marks a work-in-progress pull request in Gitea and Forgejo (they have no draft
// flag in the API; the prefix blocks merging until removed).
const draftPrefix = "WIP: "

// NewGitea returns a client for owner/repo on the Gitea at root (its web root). The context
// bounds every request the client makes.
func NewGitea(ctx context.Context, httpc *http.Client, root, token, owner, repo string) (*GiteaClient, error) {
	c, err := gitea.NewClient(strings.TrimSuffix(root, "/"), gitea.SetHTTPClient(httpc), gitea.SetToken(token), gitea.SetContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("while connecting to Gitea at %s: %w; check the URL (--forge-url) and GITEA_TOKEN", root, err)
	}
	return &GiteaClient{c: c, owner: owner, repo: repo, where: fmt.Sprintf("Gitea repository %s/%s at %s", owner, repo, root)}, nil
}

// Open implements Forge.
func (g *GiteaClient) Open(_ context.Context, head, base string) ([]*PullRequest, error) {
	var out []*PullRequest
	for page := 1; ; page++ {
		prs, resp, err := g.c.ListRepoPullRequests(g.owner, g.repo, gitea.ListPullRequestsOptions{
			ListOptions: gitea.ListOptions{Page: page, PageSize: 50}, State: gitea.StateOpen})
		if err != nil {
			return nil, g.wrap("listing the open pull requests of", resp, err)
		}
		for _, pr := range prs {
			if pr.Head != nil && pr.Head.Ref == head && pr.Base != nil && pr.Base.Ref == base {
				out = append(out, g.convert(pr))
			}
		}
		if len(prs) < 50 || resp == nil || resp.NextPage == 0 {
			break
		}
	}
	sortByNumber(out)
	return out, nil
}

// Close implements Forge.
func (g *GiteaClient) Close(_ context.Context, number int64) error {
	closed := gitea.StateClosed
	if _, resp, err := g.c.EditPullRequest(g.owner, g.repo, number, gitea.EditPullRequestOption{State: &closed}); err != nil {
		return g.wrap(fmt.Sprintf("closing pull request #%d of", number), resp, err)
	}
	return nil
}

// Create implements Forge.
// Gitea records a pushed branch in its database from the push's hooks, so for a moment after
// the push it may answer 404 for the head branch: that 404 is retried a few times.
func (g *GiteaClient) Create(ctx context.Context, want PullRequest) (*PullRequest, error) {
	ids, err := g.labelIDs(want.Labels)
	if err != nil {
		return nil, err
	}
	opt := gitea.CreatePullRequestOption{Head: want.Head, Base: want.Base, Title: g.title(want), Body: want.Body, Labels: ids, Reviewers: want.Reviewers}
	pr, resp, err := g.c.CreatePullRequest(g.owner, g.repo, opt)
	for try := 1; try <= 5 && resp != nil && resp.StatusCode == http.StatusNotFound; try++ {
		if err := timerSleep(ctx, time.Duration(try)*300*time.Millisecond); err != nil {
			return nil, err
		}
		pr, resp, err = g.c.CreatePullRequest(g.owner, g.repo, opt)
	}
	if resp != nil && resp.StatusCode == http.StatusConflict {
		return nil, ErrExists
	}
	if err != nil {
		return nil, g.wrap("opening a pull request on", resp, err)
	}
	return g.convert(pr), nil
}

// Update implements Forge.
func (g *GiteaClient) Update(_ context.Context, number int64, want PullRequest) (*PullRequest, error) {
	ids, err := g.labelIDs(want.Labels)
	if err != nil {
		return nil, err
	}
	pr, resp, err := g.c.EditPullRequest(g.owner, g.repo, number, gitea.EditPullRequestOption{Title: g.title(want), Body: &want.Body, Labels: ids})
	if err != nil {
		return nil, g.wrap(fmt.Sprintf("updating pull request #%d of", number), resp, err)
	}
	return g.convert(pr), nil
}

func (g *GiteaClient) title(want PullRequest) string {
	if want.Draft && !strings.HasPrefix(want.Title, draftPrefix) {
		return draftPrefix + want.Title
	}
	return want.Title
}

// labelIDs maps label names to the repository's label IDs, creating the missing labels.
func (g *GiteaClient) labelIDs(names []string) ([]int64, error) {
	if len(names) == 0 {
		return nil, nil
	}
	have, resp, err := g.c.ListRepoLabels(g.owner, g.repo, gitea.ListLabelsOptions{ListOptions: gitea.ListOptions{PageSize: 50}})
	if err != nil {
		return nil, g.wrap("listing the labels of", resp, err)
	}
	byName := map[string]int64{}
	for _, l := range have {
		byName[l.Name] = l.ID
	}
	var ids []int64
	for _, n := range names {
		id, ok := byName[n]
		if !ok {
			l, resp, err := g.c.CreateLabel(g.owner, g.repo, gitea.CreateLabelOption{Name: n, Color: "#1d76db", Description: "opened by cnpg-restore-gen"})
			if err != nil {
				return nil, g.wrap(fmt.Sprintf("creating label %q in", n), resp, err)
			}
			id = l.ID
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func (g *GiteaClient) convert(pr *gitea.PullRequest) *PullRequest {
	out := &PullRequest{Number: pr.Index, URL: pr.HTMLURL, Title: strings.TrimPrefix(pr.Title, draftPrefix), Body: pr.Body, Draft: strings.HasPrefix(pr.Title, draftPrefix)}
	if pr.Head != nil {
		out.Head = pr.Head.Ref
	}
	if pr.Base != nil {
		out.Base = pr.Base.Ref
	}
	for _, l := range pr.Labels {
		out.Labels = append(out.Labels, l.Name)
	}
	return out
}

func (g *GiteaClient) wrap(doing string, resp *gitea.Response, err error) error {
	if resp != nil {
		switch resp.StatusCode {
		case http.StatusUnauthorized:
			return fmt.Errorf("%s %s: the token was refused; check GITEA_TOKEN or --token-file: %w", doing, g.where, err)
		case http.StatusForbidden, http.StatusNotFound:
			return fmt.Errorf("%s %s: not found or not allowed; the token needs the write:repository and write:issue scopes: %w", doing, g.where, err)
		}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%s %s: %w", doing, g.where, err)
}
