package redact

import (
	"io"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// Set is the credentials one run has seen — tokens, and the user and password of every URL
// that carried them — so that every message, report, commit and pull request can be scrubbed
// of them, whatever form they arrive in (a URL, an echo from a server, a library's error).
// Go's url.URL.Redacted masks only a password: a token given as the user alone
// (https://TOKEN@host/…) would pass through it.
type Set struct {
	mu     sync.RWMutex
	values []string
}

// Add records secrets; values shorter than 4 characters are ignored (they would scrub words).
func (s *Set) Add(values ...string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range values {
		v = strings.TrimSpace(v)
		if len(v) >= 4 && !slices.Contains(s.values, v) {
			s.values = append(s.values, v)
		}
	}
	// Longest first, so that a secret containing another is replaced whole.
	slices.SortFunc(s.values, func(a, b string) int { return len(b) - len(a) })
}

var userinfoRE = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://([^/?#\s@]+)@`)

// AddURLs records the credentials in the user information of every URL in text (a flag's
// value, a remote, a whole command line), raw and percent-decoded: the password of user:pass,
// or the user alone when there is no password (a token given as the user, as forges take it).
// The user of user:pass is a name, like an access key ID, and stays readable.
func (s *Set) AddURLs(text string) {
	if s == nil {
		return
	}
	for _, m := range userinfoRE.FindAllStringSubmatch(text, -1) {
		user, pass, hasPass := strings.Cut(m[1], ":")
		secret := user
		if hasPass {
			secret = pass
		}
		s.Add(secret)
		if v, err := url.PathUnescape(secret); err == nil {
			s.Add(v)
		}
	}
}

// String replaces every recorded secret in text.
func (s *Set) String(text string) string {
	if s == nil {
		return text
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return Values(text, s.values...)
}

// Writer scrubs what is written through it. A secret split across two writes would pass;
// the CLI writes each message and report whole.
func (s *Set) Writer(w io.Writer) io.Writer { return &writer{set: s, w: w} }

type writer struct {
	set *Set
	w   io.Writer
}

func (w *writer) Write(p []byte) (int, error) {
	clean := w.set.String(string(p))
	if clean == string(p) {
		return w.w.Write(p)
	}
	if _, err := io.WriteString(w.w, clean); err != nil {
		return 0, err
	}
	return len(p), nil
}
