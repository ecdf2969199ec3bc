package catalog

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// parsePyLiteral parses the subset of Python literal syntax that barman writes with repr() into
// backup.info: strings (with escapes and the b/u/r prefixes), integers, floats, None, True,
// False, lists, tuples and dicts. It is the Go counterpart of ast.literal_eval for this data.
// Strings come back as string, numbers as int64 or float64, None as nil, lists and tuples as
// []any, dicts as map[string]any (keys formatted with %v).
func parsePyLiteral(s string) (any, error) {
	p := &pyParser{s: s}
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.s) {
		return nil, p.errorf("unexpected %q after the value", p.rest())
	}
	return v, nil
}

type pyParser struct {
	s string
	i int
}

const maxPyDepth = 64

func (p *pyParser) errorf(format string, a ...any) error {
	return fmt.Errorf("at column %d: %s", p.i+1, fmt.Sprintf(format, a...))
}

func (p *pyParser) rest() string {
	r := p.s[p.i:]
	if len(r) > 20 {
		r = r[:20] + "…"
	}
	return r
}

func (p *pyParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *pyParser) value(depth int) (any, error) {
	if depth > maxPyDepth {
		return nil, p.errorf("nested deeper than %d levels", maxPyDepth)
	}
	p.space()
	if p.i >= len(p.s) {
		return nil, p.errorf("value expected, found the end of the line")
	}
	c := p.s[p.i]
	switch {
	case c == '[':
		return p.sequence(depth, ']')
	case c == '(':
		return p.sequence(depth, ')')
	case c == '{':
		return p.dict(depth)
	case c == '\'' || c == '"':
		return p.str(false)
	case (c == 'b' || c == 'u' || c == 'r' || c == 'B' || c == 'U' || c == 'R') && p.i+1 < len(p.s) && (p.s[p.i+1] == '\'' || p.s[p.i+1] == '"'):
		p.i++
		return p.str(c == 'r' || c == 'R')
	case c == '-' || c == '+' || c == '.' || c >= '0' && c <= '9':
		return p.number()
	}
	for _, kw := range []struct {
		word string
		v    any
	}{{"None", nil}, {"True", true}, {"False", false}} {
		if strings.HasPrefix(p.s[p.i:], kw.word) {
			p.i += len(kw.word)
			return kw.v, nil
		}
	}
	return nil, p.errorf("%q is not a Python literal", p.rest())
}

func (p *pyParser) sequence(depth int, closer byte) (any, error) {
	p.i++ // opener
	out := []any{}
	for {
		p.space()
		if p.i < len(p.s) && p.s[p.i] == closer {
			p.i++
			return out, nil
		}
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		p.space()
		if p.i >= len(p.s) {
			return nil, p.errorf("%q expected, found the end of the line", string(closer))
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case closer:
		default:
			return nil, p.errorf("',' or %q expected, found %q", string(closer), p.rest())
		}
	}
}

func (p *pyParser) dict(depth int) (any, error) {
	p.i++ // {
	out := map[string]any{}
	for {
		p.space()
		if p.i < len(p.s) && p.s[p.i] == '}' {
			p.i++
			return out, nil
		}
		k, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return nil, p.errorf("':' expected after a dict key")
		}
		p.i++
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		out[fmt.Sprint(k)] = v
		p.space()
		if p.i >= len(p.s) {
			return nil, p.errorf("'}' expected, found the end of the line")
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case '}':
		default:
			return nil, p.errorf("',' or '}' expected, found %q", p.rest())
		}
	}
}

func (p *pyParser) number() (any, error) {
	start := p.i
	for p.i < len(p.s) && strings.IndexByte("+-0123456789.eEjxXabcdefABCDEF_", p.s[p.i]) >= 0 {
		p.i++
	}
	lit := strings.ReplaceAll(p.s[start:p.i], "_", "")
	if n, err := strconv.ParseInt(lit, 0, 64); err == nil {
		return n, nil
	}
	if f, err := strconv.ParseFloat(lit, 64); err == nil {
		return f, nil
	}
	p.i = start
	return nil, p.errorf("%q is not a number", lit)
}

// str parses a quoted string starting at the quote, decoding Python escapes unless raw.
func (p *pyParser) str(raw bool) (any, error) {
	quote := p.s[p.i]
	p.i++
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == quote:
			p.i++
			return b.String(), nil
		case c == '\\' && raw:
			if p.i+1 < len(p.s) {
				b.WriteByte(c)
				b.WriteByte(p.s[p.i+1])
				p.i += 2
				continue
			}
			return nil, p.errorf("unterminated string")
		case c == '\\':
			if err := p.escape(&b); err != nil {
				return nil, err
			}
		default:
			r, size := utf8.DecodeRuneInString(p.s[p.i:])
			b.WriteRune(r)
			p.i += size
		}
	}
	return nil, p.errorf("unterminated string")
}

func (p *pyParser) escape(b *strings.Builder) error {
	p.i++ // backslash
	if p.i >= len(p.s) {
		return p.errorf("unterminated string")
	}
	c := p.s[p.i]
	p.i++
	simple := map[byte]byte{'n': '\n', 't': '\t', 'r': '\r', '\\': '\\', '\'': '\'', '"': '"', 'a': 7, 'b': 8, 'f': 12, 'v': 11, '0': 0}
	hexlen := map[byte]int{'x': 2, 'u': 4, 'U': 8}
	if n, ok := hexlen[c]; ok {
		if p.i+n > len(p.s) {
			return p.errorf("truncated \\%c escape", c)
		}
		v, err := strconv.ParseUint(p.s[p.i:p.i+n], 16, 32)
		if err != nil {
			return p.errorf("bad \\%c escape %q", c, p.s[p.i:p.i+n])
		}
		p.i += n
		b.WriteRune(rune(v))
		return nil
	}
	if c >= '0' && c <= '7' {
		v := uint64(c - '0')
		for k := 0; k < 2 && p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '7'; k++ {
			v = v*8 + uint64(p.s[p.i]-'0')
			p.i++
		}
		b.WriteRune(rune(v))
		return nil
	}
	if r, ok := simple[c]; ok {
		b.WriteByte(r)
		return nil
	}
	// Python keeps unknown escapes as they are.
	b.WriteByte('\\')
	b.WriteByte(c)
	return nil
}
