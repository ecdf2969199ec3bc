// Package termsafe keeps names that come from a bucket or a repository (object keys, backup
// IDs, file names) from driving the terminal they are printed on: control characters — an
// escape sequence could rewrite the screen or a previous line — are shown escaped instead.
package termsafe

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Escape returns s with every control character but newline and tab written as \xNN (C0, DEL)
// or \u00NN (C1), and invalid UTF-8 bytes as \xNN.
func Escape(s string) string {
	if isSafe(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02X`, s[i])
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02X`, r)
		case r >= 0x80 && r < 0xa0:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func isSafe(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || r < 0x20 && r != '\n' && r != '\t' || r == 0x7f || r >= 0x80 && r < 0xa0 {
			return false
		}
	}
	return true
}

// Writer escapes what is written through it (each write whole: the CLI writes lines).
func Writer(w io.Writer) io.Writer { return writer{w} }

type writer struct{ w io.Writer }

func (w writer) Write(p []byte) (int, error) {
	s := string(p)
	if e := Escape(s); e != s {
		if _, err := io.WriteString(w.w, e); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return w.w.Write(p)
}
