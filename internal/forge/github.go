package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/google/go-github/v60/github"
)

// GitHubClient is a Forge on GitHub or GitHub Enterprise Server.
type GitHubClient struct {
	c           *github.Client
	owner, repo string
}

// NewGitHub returns a client for owner/repo. apiURL is the REST root ("" for api.github.com;
// https://HOST/api/v3/ for GitHub Enterprise Server); httpc carries Retry.
func NewGitHub(httpc *http.Client, apiURL, token, owner, repo string) (*GitHubClient, error) {
	c := github.NewClient(httpc)
	if token != "" {
		c = c.WithAuthToken(token)
	}
	if apiURL != "" {
		u, err := url.Parse(strings.TrimSuffix(apiURL, "/") + "/")
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("--forge-url %q is not a URL (GitHub Enterprise: https://HOST/api/v3/)", apiURL)
		}
		c.BaseURL = u
	}
	return &GitHubClient{c: c, owner: owner, repo: repo}, nil
}

// Open implements Forge.
func (g *GitHubClient) Open(ctx context.Context, head, base string) ([]*PullRequest, error) {
	prs, _, err := g.c.PullRequests.List(ctx, g.owner, g.repo, &github.PullRequestListOptions{State: "open", Head: g.owner + ":" + head, Base: base,
		Sort: "created", Direction: "asc"})
	if err != nil {
		return nil, g.wrap("listing the open pull requests of", err)
	}
	var out []*PullRequest
	for _, pr := range prs {
		if pr.GetHead().GetRef() == head {
			out = append(out, g.convert(pr))
		}
	}
	sortByNumber(out)
	return out, nil
}

// Close implements Forge.
func (g *GitHubClient) Close(ctx context.Context, number int64) error {
	closed := "closed"
	if _, _, err := g.c.PullRequests.Edit(ctx, g.owner, g.repo, int(number), &github.PullRequest{State: &closed}); err != nil {
		return g.wrap(fmt.Sprintf("closing pull request #%d of", number), err)
	}
	return nil
}

// Create implements Forge.
func (g *GitHubClient) Create(ctx context.Context, want PullRequest) (*PullRequest, error) {
	pr, _, err := g.c.PullRequests.Create(ctx, g.owner, g.repo, &github.NewPullRequest{
		Title: &want.Title, Head: &want.Head, Base: &want.Base, Body: &want.Body, Draft: &want.Draft,
	})
	if err != nil {
		var ge *github.ErrorResponse
		if errors.As(err, &ge) && ge.Response != nil && ge.Response.StatusCode == http.StatusUnprocessableEntity && alreadyExists(ge) {
			return nil, ErrExists
		}
		return nil, g.wrap("opening a pull request on", err)
	}
	if len(want.Reviewers) > 0 {
		if _, _, err := g.c.PullRequests.RequestReviewers(ctx, g.owner, g.repo, pr.GetNumber(), github.ReviewersRequest{Reviewers: want.Reviewers}); err != nil {
			return nil, g.wrap(fmt.Sprintf("asking %s to review pull request #%d of", strings.Join(want.Reviewers, ", "), pr.GetNumber()), err)
		}
	}
	return g.labels(ctx, g.convert(pr), want.Labels)
}

func alreadyExists(ge *github.ErrorResponse) bool {
	if strings.Contains(strings.ToLower(ge.Message), "already exists") {
		return true
	}
	for _, e := range ge.Errors {
		if strings.Contains(strings.ToLower(e.Message), "already exists") {
			return true
		}
	}
	return false
}

// Update implements Forge. GitHub's REST API can't turn a pull request into a draft or back:
// the draft state stays what it was.
func (g *GitHubClient) Update(ctx context.Context, number int64, want PullRequest) (*PullRequest, error) {
	pr, _, err := g.c.PullRequests.Edit(ctx, g.owner, g.repo, int(number), &github.PullRequest{Title: &want.Title, Body: &want.Body})
	if err != nil {
		return nil, g.wrap(fmt.Sprintf("updating pull request #%d of", number), err)
	}
	return g.labels(ctx, g.convert(pr), want.Labels)
}

// labels adds the wanted labels (GitHub creates the ones the repository lacks).
func (g *GitHubClient) labels(ctx context.Context, pr *PullRequest, want []string) (*PullRequest, error) {
	var missing []string
	for _, l := range want {
		if !slices.Contains(pr.Labels, l) {
			missing = append(missing, l)
		}
	}
	if len(missing) == 0 {
		return pr, nil
	}
	got, _, err := g.c.Issues.AddLabelsToIssue(ctx, g.owner, g.repo, int(pr.Number), missing)
	if err != nil {
		return nil, g.wrap(fmt.Sprintf("labelling pull request #%d of", pr.Number), err)
	}
	pr.Labels = nil
	for _, l := range got {
		pr.Labels = append(pr.Labels, l.GetName())
	}
	return pr, nil
}

func (g *GitHubClient) convert(pr *github.PullRequest) *PullRequest {
	out := &PullRequest{Number: int64(pr.GetNumber()), URL: pr.GetHTMLURL(), Head: pr.GetHead().GetRef(), Base: pr.GetBase().GetRef(),
		Title: pr.GetTitle(), Body: pr.GetBody(), Draft: pr.GetDraft()}
	for _, l := range pr.Labels {
		out.Labels = append(out.Labels, l.GetName())
	}
	return out
}

func (g *GitHubClient) wrap(doing string, err error) error {
	var rl *github.RateLimitError
	var ab *github.AbuseRateLimitError
	var ge *github.ErrorResponse
	where := fmt.Sprintf("GitHub repository %s/%s", g.owner, g.repo)
	switch {
	case errors.As(err, &rl):
		return fmt.Errorf("%s %s: rate limit spent until %s; run again then, or use a token with a higher limit: %w", doing, where, rl.Rate.Reset.UTC().Format("15:04:05Z"), err)
	case errors.As(err, &ab):
		return fmt.Errorf("%s %s: GitHub's secondary rate limit; run again in a few minutes: %w", doing, where, err)
	case errors.As(err, &ge) && strings.Contains(ge.Message, "GitHub Actions is not permitted to create or approve pull requests"):
		// The workflow's GITHUB_TOKEN, with the repository's default setting.
		return fmt.Errorf("%s %s: the repository does not let GitHub Actions open pull requests; turn on Settings → Actions → General → Workflow permissions → \"Allow GitHub Actions to create and approve pull requests\" (or use a GitHub App or a personal token): %w", doing, where, err)
	case errors.As(err, &ge) && ge.Response != nil && ge.Response.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("%s %s: the token was refused; check GITHUB_TOKEN or --token-file: %w", doing, where, err)
	case errors.As(err, &ge) && ge.Response != nil && (ge.Response.StatusCode == http.StatusNotFound || ge.Response.StatusCode == http.StatusForbidden):
		return fmt.Errorf("%s %s: not found or not allowed; the token needs pull request write access to the repository: %w", doing, where, err)
	}
	return fmt.Errorf("%s %s: %w", doing, where, err)
}
