package forge

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// GitHubApp is a GitHub App that may act on the repository: its ID, its private key (PEM) and,
// optionally, the installation (found from the repository when zero).
type GitHubApp struct {
	ID             int64
	InstallationID int64
	PrivateKey     []byte
}

// InstallationToken exchanges the App's key for an installation token of owner/repo: a JWT
// signed with the key (RS256, valid nine minutes, backdated one for clock skew) authenticates
// the App, which asks for a token of its installation. The token serves the API and Git pushes
// and expires after an hour.
func (a GitHubApp) InstallationToken(ctx context.Context, httpc *http.Client, apiURL, owner, repo string) (string, error) {
	key, err := jwt.ParseRSAPrivateKeyFromPEM(a.PrivateKey)
	if err != nil {
		return "", fmt.Errorf("GitHub App private key: %w (it is the .pem file GitHub gave when the key was generated)", err)
	}
	now := time.Now()
	signed, err := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.RegisteredClaims{
		Issuer:    strconv.FormatInt(a.ID, 10),
		IssuedAt:  jwt.NewNumericDate(now.Add(-time.Minute)),
		ExpiresAt: jwt.NewNumericDate(now.Add(9 * time.Minute)),
	}).SignedString(key)
	if err != nil {
		return "", fmt.Errorf("signing the GitHub App JWT: %w", err)
	}
	app, err := NewGitHub(httpc, apiURL, signed, owner, repo)
	if err != nil {
		return "", err
	}
	inst := a.InstallationID
	if inst == 0 {
		i, _, err := app.c.Apps.FindRepositoryInstallation(ctx, owner, repo)
		if err != nil {
			return "", app.wrap(fmt.Sprintf("finding GitHub App %d's installation on", a.ID), err)
		}
		inst = i.GetID()
	}
	tok, _, err := app.c.Apps.CreateInstallationToken(ctx, inst, nil)
	if err != nil {
		return "", app.wrap(fmt.Sprintf("getting a token of GitHub App %d's installation %d for", a.ID, inst), err)
	}
	return tok.GetToken(), nil
}
