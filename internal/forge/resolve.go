package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
)

// Choose decides the forge for a remote and reads owner/repo from it: name when given (from a
// flag or the repository's configuration), else from the remote's host. A local run (nothing
// pushed) needs neither, and gets None when no name is given.
func Choose(remote, name string, local bool) (string, Repo, error) {
	if local || name == None {
		if name == "" {
			name = None
		}
		ref, _ := ParseRemote(remote)
		return name, ref, nil
	}
	ref, err := ParseRemote(remote)
	if err != nil {
		return "", Repo{}, err
	}
	if name != "" {
		return name, ref, nil
	}
	name, err = Detect(ref)
	return name, ref, err
}

// Credentials are where a forge token comes from: a file, the forge's environment variables,
// or a GitHub App's key (exchanged for an installation token).
type Credentials struct {
	TokenFile string
	Getenv    func(string) string
	// AppID, AppKeyFile and AppInstallationID are a GitHub App's; unset ones are read from
	// $GITHUB_APP_ID, $GITHUB_APP_PRIVATE_KEY_FILE and $GITHUB_APP_INSTALLATION_ID.
	AppID             int64
	AppKeyFile        string
	AppInstallationID int64
}

// ErrCredentials marks credentials that are incomplete or contradictory (a configuration
// mistake, not a failure of the forge).
var ErrCredentials = errors.New("forge credentials")

// Token returns the token for forge name: a GitHub App's installation token, --token-file's,
// or the forge's variable ($GITHUB_TOKEN, $GH_TOKEN; $GITEA_TOKEN, $FORGEJO_TOKEN). None is
// "" (fine for SSH and local runs). apiRoot is the forge URL the user gave, if any.
func Token(ctx context.Context, httpc *http.Client, name string, ref Repo, apiRoot string, c Credentials) (string, error) {
	getenv := c.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	app, ok, err := c.githubApp(getenv)
	if err != nil {
		return "", err
	}
	if ok {
		if name != GitHub {
			return "", fmt.Errorf("%w: a GitHub App is configured but the forge is %s", ErrCredentials, name)
		}
		return app.InstallationToken(ctx, httpc, GitHubAPI(ref, apiRoot), ref.Owner, ref.Name)
	}
	if c.TokenFile != "" {
		b, err := os.ReadFile(c.TokenFile)
		if err != nil {
			return "", fmt.Errorf("--token-file: %w", err)
		}
		t := strings.TrimSpace(string(b))
		if t == "" {
			return "", fmt.Errorf("--token-file %s is empty", c.TokenFile)
		}
		return t, nil
	}
	var names []string
	switch name {
	case GitHub:
		names = []string{"GITHUB_TOKEN", "GH_TOKEN"}
	case Gitea:
		names = []string{"GITEA_TOKEN", "FORGEJO_TOKEN"}
	default:
		names = []string{"GITHUB_TOKEN", "GITEA_TOKEN", "FORGEJO_TOKEN"}
	}
	for _, n := range names {
		if v := strings.TrimSpace(getenv(n)); v != "" {
			return v, nil
		}
	}
	return "", nil
}

// githubApp reads the GitHub App settings; ok is false when none is set.
func (c Credentials) githubApp(getenv func(string) string) (GitHubApp, bool, error) {
	id, keyFile, inst := c.AppID, c.AppKeyFile, c.AppInstallationID
	var err error
	envInt := func(name string, v *int64) {
		if *v == 0 && getenv(name) != "" && err == nil {
			if *v, err = strconv.ParseInt(getenv(name), 10, 64); err != nil {
				err = fmt.Errorf("%w: $%s is not a number: %w", ErrCredentials, name, err)
			}
		}
	}
	envInt("GITHUB_APP_ID", &id)
	envInt("GITHUB_APP_INSTALLATION_ID", &inst)
	if keyFile == "" {
		keyFile = getenv("GITHUB_APP_PRIVATE_KEY_FILE")
	}
	switch {
	case err != nil:
		return GitHubApp{}, false, err
	case id == 0 && keyFile == "":
		return GitHubApp{}, false, nil
	case id == 0 || keyFile == "":
		return GitHubApp{}, false, fmt.Errorf("%w: a GitHub App needs both its ID (--github-app-id) and its private key (--github-app-key-file)", ErrCredentials)
	}
	key, err := os.ReadFile(keyFile)
	if err != nil {
		return GitHubApp{}, false, fmt.Errorf("GitHub App private key: %w", err)
	}
	return GitHubApp{ID: id, InstallationID: inst, PrivateKey: key}, true, nil
}

// GitHubAPI is the REST root: apiRoot when given, api.github.com's (""), or GitHub
// Enterprise's https://HOST/api/v3/.
func GitHubAPI(ref Repo, apiRoot string) string {
	if apiRoot != "" || strings.EqualFold(ref.Host, "github.com") {
		return apiRoot
	}
	return ref.WebRoot() + "api/v3/"
}

// New is the client of forge name for ref's repository; apiRoot is the forge URL the user
// gave, if any (GitHub Enterprise's API root, or a Gitea under a path).
func New(ctx context.Context, httpc *http.Client, name string, ref Repo, apiRoot, token string) (Forge, error) {
	switch name {
	case GitHub:
		if token == "" {
			return nil, fmt.Errorf("no GitHub token: set GITHUB_TOKEN, pass --token-file (a token that may open pull requests on %s/%s) or a GitHub App", ref.Owner, ref.Name)
		}
		return NewGitHub(httpc, GitHubAPI(ref, apiRoot), token, ref.Owner, ref.Name)
	case Gitea:
		if token == "" {
			return nil, fmt.Errorf("no Gitea token: set GITEA_TOKEN or pass --token-file (scopes write:repository and write:issue)")
		}
		root := apiRoot
		if root == "" {
			root = ref.WebRoot()
		}
		return NewGitea(ctx, httpc, root, token, ref.Owner, ref.Name)
	}
	return nil, fmt.Errorf("forge %q opens no pull requests", name)
}
