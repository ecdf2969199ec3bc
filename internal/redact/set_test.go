package redact

import (
	"bytes"
	"testing"
)

func TestSetScrubsUserOnlyTokensAndPasswords(t *testing.T) {
	var s Set
	s.AddURLs("pr --repo https://ghp_userOnlyToken123@git.example.com/acme/gitops.git --endpoint-url https://minio:s3cr%2Fet99@minio.example.com:9000")
	s.Add("tok")
	for in, want := range map[string]string{
		"fatal: https://ghp_userOnlyToken123@git.example.com/acme/gitops.git not found": "fatal: https://[REDACTED]@git.example.com/acme/gitops.git not found",
		"Get https://minio:s3cr%2Fet99@minio.example.com:9000/":                         "Get https://minio:[REDACTED]@minio.example.com:9000/",
		"decoded s3cr/et99 too":     "decoded [REDACTED] too",
		"tok is too short to scrub": "tok is too short to scrub",
	} {
		if got := s.String(in); got != want {
			t.Errorf("String(%q) = %q, want %q", in, got, want)
		}
	}
	var b bytes.Buffer
	if _, err := s.Writer(&b).Write([]byte("token ghp_userOnlyToken123\n")); err != nil || b.String() != "token [REDACTED]\n" {
		t.Errorf("Writer wrote %q, %v", b.String(), err)
	}
}
