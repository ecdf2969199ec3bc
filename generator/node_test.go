package generator

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestDeepCopyResolvesAnchorsAliasesAndMergeKeys(t *testing.T) {
	src := `base: &base {instances: 3, imageName: pg:17}
spec:
  <<: [*base, {instances: 9, storage: {size: 1Gi}}]
  instances: 2
  monitoring: &mon {enablePodMonitor: true}
  again: *mon
`
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	c := deepCopy(get(doc.Content[0], "spec"))
	out, err := encode(c)
	if err != nil {
		t.Fatal(err)
	}
	got := string(out)
	for _, bad := range []string{"<<", "&", "*", "!!merge"} {
		if strings.Contains(got, bad) {
			t.Errorf("the copy still has %q:\n%s", bad, got)
		}
	}
	var want, have map[string]any
	_ = yaml.Unmarshal([]byte("instances: 2\nmonitoring: {enablePodMonitor: true}\nagain: {enablePodMonitor: true}\nimageName: pg:17\nstorage: {size: 1Gi}\n"), &want)
	if err := yaml.Unmarshal(out, &have); err != nil {
		t.Fatal(err)
	}
	if len(have) != len(want) || have["instances"] != 2 || have["imageName"] != "pg:17" || have["storage"] == nil || have["again"] == nil {
		t.Errorf("copy = %v, want %v (own keys win, then the first merge)", have, want)
	}
}
