package overlays

import (
	"fmt"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
)

// renderTemplate renders an ApplicationSet's template with one parameter set, as the
// ApplicationSet controller does: every string field, with Go templates (and Sprig's
// functions but env and expandenv, as Argo CD) when goTemplate is set, else {{param}}
// replacement that leaves unknown parameters as they are.
func renderTemplate(tmpl map[string]any, params map[string]any, goTmpl bool, opts []string) (map[string]any, error) {
	var render func(string) (string, error)
	if goTmpl {
		funcs := sprig.TxtFuncMap()
		delete(funcs, "env")
		delete(funcs, "expandenv")
		render = func(s string) (string, error) {
			if !strings.Contains(s, "{{") {
				return s, nil
			}
			t := template.New("").Funcs(funcs)
			if len(opts) > 0 {
				t = t.Option(opts...)
			}
			t, err := t.Parse(s)
			if err != nil {
				return "", err
			}
			var b strings.Builder
			if err := t.Execute(&b, params); err != nil {
				return "", err
			}
			return b.String(), nil
		}
	} else {
		render = func(s string) (string, error) { return fastTemplate(s, params), nil }
	}
	out, err := renderValue(tmpl, render)
	if err != nil {
		return nil, err
	}
	m, _ := out.(map[string]any)
	return m, nil
}

func renderValue(v any, render func(string) (string, error)) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, val := range x {
			r, err := renderValue(val, render)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			r, err := renderValue(val, render)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	case string:
		return render(x)
	}
	return v, nil
}

// fastTemplate replaces each {{ param }} with its value; unknown ones stay.
func fastTemplate(s string, params map[string]any) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := strings.Index(s[i+2:], "}}")
		if j < 0 {
			b.WriteString(s)
			return b.String()
		}
		tag := strings.TrimSpace(s[i+2 : i+2+j])
		b.WriteString(s[:i])
		if v, ok := params[tag]; ok {
			fmt.Fprint(&b, v)
		} else {
			b.WriteString(s[i : i+4+j])
		}
		s = s[i+4+j:]
	}
}
