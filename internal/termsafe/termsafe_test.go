package termsafe

import "testing"

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"plain backup 20260205T020001\n": "plain backup 20260205T020001\n",
		"tab\tand newline\n":             "tab\tand newline\n",
		"key\x1b[2J\x1b[Hfake OK":        `key\x1B[2J\x1B[Hfake OK`,
		"cr\roverwrite":                  `cr\x0Doverwrite`,
		"bell\x07 del\x7f":               `bell\x07 del\x7F`,
		"c1 \u009b31m":                   `c1 \u009B31m`,
		"bad \xff utf8":                  `bad \xFF utf8`,
		"ünïcödé names stay":             "ünïcödé names stay",
	} {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
}
