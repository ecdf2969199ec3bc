// Package redact keeps credentials out of messages: user info in URLs, and known secret
// values (tokens) anywhere in a string.
package redact

import (
	"net/url"
	"strings"
)

// URL drops the user and password from a URL; anything else is returned as is.
func URL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	u.User = nil
	return u.String()
}

// Values replaces every occurrence of each secret (of at least 4 characters) in s.
func Values(s string, secrets ...string) string {
	for _, v := range secrets {
		if len(v) >= 4 {
			s = strings.ReplaceAll(s, v, "[REDACTED]")
		}
	}
	return s
}
