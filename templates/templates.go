// Package templates holds the text templates the tool renders, embedded in the binary: the
// pull request's title and body. Kubernetes objects are never built from templates (they are
// data, serialized); only prose for people is.
package templates

import "embed"

// FS holds every *.tmpl file of this directory.
//
//go:embed *.tmpl
var FS embed.FS
