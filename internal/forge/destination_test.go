package forge

import (
	"strings"
	"testing"
)

func TestTokenDestinations(t *testing.T) {
	gh := Repo{Host: "github.com", Scheme: "https", Owner: "acme", Name: "gitops"}
	gitea := Repo{Host: "git.example.com:3000", Scheme: "https", Owner: "acme", Name: "gitops"}
	plain := Repo{Host: "git.example.com", Scheme: "http", Owner: "acme", Name: "gitops"}
	local := Repo{Host: "127.0.0.1:3000", Scheme: "http", Owner: "acme", Name: "gitops"}
	cases := []struct {
		name string
		d    Destination
		want string // "" = allowed
	}{
		{"the remote's own host", Destination{Remote: gitea}, ""},
		{"repo config naming another host", Destination{Remote: gitea, APIRoot: "https://collector.example.net/", APIRootFromRepo: true}, "a host chosen by the repository never receives your forge token"},
		{"repo config naming the remote's host under a path", Destination{Remote: gitea, APIRoot: "https://git.example.com/gitea/", APIRootFromRepo: true}, ""},
		{"github.com and its API host", Destination{Remote: gh, APIRoot: "https://api.github.com/", APIRootFromRepo: true}, ""},
		{"another host from the command line", Destination{Remote: gitea, APIRoot: "https://ghe.example.net/api/v3/"}, ""},
		{"plain http remote on the network", Destination{Remote: plain}, "plain http:// on git.example.com"},
		{"plain http, allowed", Destination{Remote: plain, AllowPlainHTTP: true}, ""},
		{"plain http on loopback", Destination{Remote: local}, ""},
		{"plain http forge API", Destination{Remote: gitea, APIRoot: "http://git.example.com:3000/"}, "the forge API http://git.example.com:3000/ is plain http://"},
		{"localhost", Destination{Remote: Repo{Host: "localhost:3000", Scheme: "http"}}, ""},
	}
	for _, tc := range cases {
		err := tc.d.Check()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v, want allowed", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}
