package forge

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Destination is where a forge token would go: the remote the branch is pushed to and the API
// root the forge client talks to.
type Destination struct {
	Remote Repo
	// APIRoot is the forge URL the client uses; "" means the one derived from Remote.
	APIRoot string
	// APIRootFromRepo is set when APIRoot comes from the repository's own configuration file,
	// which anyone who can commit to the repository can change.
	APIRootFromRepo bool
	// AllowPlainHTTP lets a token travel over http:// to a host that is not loopback.
	AllowPlainHTTP bool
}

// Check refuses a destination that would hand the token to a host the user did not choose,
// or send it in the clear over a network.
func (d Destination) Check() error {
	if d.APIRoot != "" {
		u, err := url.Parse(d.APIRoot)
		if err != nil || u.Host == "" {
			return fmt.Errorf("forge URL %q is not an absolute URL", d.APIRoot)
		}
		if d.APIRootFromRepo && !sameForgeHost(u.Hostname(), d.Remote.Host) {
			return fmt.Errorf("the repository's .cnpg-restore-gen.yaml sets forgeURL %s, whose host %s is not the remote's (%s): a host chosen by the repository never receives your forge token, since anyone who can commit to it could collect the token of whoever runs the next restore. If you trust it, pass --forge-url %s yourself (or set CNPG_RESTORE_GEN_FORGE_URL); otherwise remove forgeURL from the file",
				u.Redacted(), u.Hostname(), d.Remote.Host, u.Redacted())
		}
		if err := plainHTTP(u.Scheme, u.Hostname(), "the forge API "+u.Redacted(), d.AllowPlainHTTP); err != nil {
			return err
		}
	}
	host := d.Remote.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return plainHTTP(d.Remote.Scheme, host, "the remote "+d.Remote.WebRoot(), d.AllowPlainHTTP)
}

func plainHTTP(scheme, host, what string, allowed bool) error {
	if !strings.EqualFold(scheme, "http") || allowed || isLoopback(host) {
		return nil
	}
	return fmt.Errorf("%s is plain http:// on %s, not loopback: the forge token would cross the network in the clear. Use https, or pass --allow-plain-http if this network is private to you", what, host)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// sameForgeHost says whether host serves the remote's forge: the same host, or GitHub's API
// host for github.com.
func sameForgeHost(host, remoteHost string) bool {
	if h, _, err := net.SplitHostPort(remoteHost); err == nil {
		remoteHost = h
	}
	host, remoteHost = strings.ToLower(host), strings.ToLower(remoteHost)
	return host == remoteHost || remoteHost == "github.com" && host == "api.github.com"
}
