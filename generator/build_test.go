package generator

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/openapi"
	"sigs.k8s.io/yaml"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/overlays"
)

// The CRD schemas of CloudNativePG and the barman-cloud plugin, vendored by
// hack/update-crds.sh (versions in testdata/crds/VERSIONS).
var (
	schemasOnce sync.Once
	schemas     map[string]*jsonschema.Schema // "group/version Kind" → schema
	schemasErr  error
)

func crdSchemas(t *testing.T) map[string]*jsonschema.Schema {
	t.Helper()
	schemasOnce.Do(func() { schemas, schemasErr = loadSchemas() })
	if schemasErr != nil {
		t.Fatal(schemasErr)
	}
	return schemas
}

func loadSchemas() (map[string]*jsonschema.Schema, error) {
	files, err := filepath.Glob("testdata/crds/*.yaml.gz")
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no vendored CRDs in testdata/crds: run hack/update-crds.sh")
	}
	out := map[string]*jsonschema.Schema{}
	for _, file := range files {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(zr)
		f.Close()
		if err != nil {
			return nil, err
		}
		var crd struct {
			Spec struct {
				Group string
				Names struct{ Kind string }
				// Versions carry the schema.
				Versions []struct {
					Name   string
					Schema struct {
						OpenAPIV3Schema map[string]any `json:"openAPIV3Schema"`
					}
				}
			}
		}
		if err := yaml.Unmarshal(data, &crd); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		for _, v := range crd.Spec.Versions {
			key := crd.Spec.Group + "/" + v.Name + " " + crd.Spec.Names.Kind
			c := jsonschema.NewCompiler()
			if err := c.AddResource(key, structural(v.Schema.OpenAPIV3Schema)); err != nil {
				return nil, err
			}
			s, err := c.Compile(key)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			out[key] = s
		}
	}
	for _, k := range []struct{ key, def string }{
		{"batch/v1 Job", "io.k8s.api.batch.v1.Job"},
		{"v1 ConfigMap", "io.k8s.api.core.v1.ConfigMap"},
	} {
		sch, err := kubernetesSchema(k.def)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k.key, err)
		}
		out[k.key] = sch
	}
	return out, nil
}

// kubernetesSchema is a built-in kind's schema from the Kubernetes OpenAPI document kustomize
// embeds (kyaml/openapi), made strict as the API server's field validation is: every
// definition is kept, the kind is the root.
func kubernetesSchema(def string) (*jsonschema.Schema, error) {
	b, err := json.Marshal(openapi.Schema().Definitions)
	if err != nil {
		return nil, err
	}
	var defs map[string]any
	if err := json.Unmarshal(b, &defs); err != nil {
		return nil, err
	}
	if _, ok := defs[def]; !ok {
		return nil, fmt.Errorf("no definition %s in kustomize's OpenAPI document", def)
	}
	doc := map[string]any{"$ref": "#/definitions/" + def, "definitions": structural(defs)}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(def, doc); err != nil {
		return nil, err
	}
	return c.Compile(def)
}

// structural turns a Kubernetes structural schema (a CRD's, or the Swagger definitions of the
// built-in kinds) into JSON Schema: unknown fields are errors (as the API server's strict
// field validation makes them), int-or-string is either.
func structural(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, val := range x {
			if !strings.HasPrefix(k, "x-kubernetes-") {
				out[k] = structural(val)
			}
		}
		if x["x-kubernetes-int-or-string"] == true || x["format"] == "int-or-string" {
			delete(out, "type")
			delete(out, "format")
			out["anyOf"] = []any{map[string]any{"type": "integer"}, map[string]any{"type": "string"}}
		}
		if _, ok := x["properties"]; ok && x["x-kubernetes-preserve-unknown-fields"] != true {
			if _, has := x["additionalProperties"]; !has {
				out["additionalProperties"] = false
			}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = structural(e)
		}
		return out
	}
	return v
}

// checkBuilds builds every top-level kustomization of the repo with kustomize's API and
// validates every CloudNativePG and barman-cloud object it produces against its CRD schema.
func checkBuilds(t *testing.T, dir string) {
	t.Helper()
	repo, err := overlays.ScanDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	included := map[string]bool{}
	var roots []string
	ks := repo.Kustomizations()
	for _, k := range ks {
		for _, target := range k.Resources {
			included[target] = true
		}
	}
	for _, k := range ks {
		if !included[k.Dir] {
			roots = append(roots, k.Dir)
		}
	}
	sort.Strings(roots)
	if len(roots) == 0 {
		t.Fatal("no kustomization to build")
	}
	fs := filesys.MakeFsOnDisk()
	built := 0
	for _, root := range roots {
		if k := repo.File(path.Join(root, "kustomization.yaml")); k != nil && bytes.Contains(k.Data, []byte("helmCharts:")) {
			continue // needs helm and the chart; the model below builds it without them
		}
		m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, filepath.Join(dir, root))
		if err != nil {
			t.Errorf("kustomize build %s: %v", root, err)
			continue
		}
		out, err := m.AsYaml()
		if err != nil {
			t.Fatal(err)
		}
		built += validateObjects(t, root, out)
	}
	if built == 0 {
		t.Errorf("no CloudNativePG object in the built output of %v", roots)
	}
	// What Flux deploys: every Kustomization's path built as Flux builds it, after
	// substitution, and its CloudNativePG objects valid.
	if m := repo.Model(); m != nil && len(m.Appliers) > 0 {
		for _, p := range m.Problems {
			t.Errorf("Flux would not deploy the changed repo: %s", p)
		}
		for _, d := range m.Objects {
			b, err := yaml.Marshal(d.Body)
			if err != nil {
				t.Fatal(err)
			}
			by := "applied by hand"
			if d.By != nil {
				by = d.By.String()
			}
			validateObjects(t, by, b)
		}
	}
}

func validateObjects(t *testing.T, root string, stream []byte) int {
	t.Helper()
	n := 0
	for _, doc := range bytes.Split(stream, []byte("\n---\n")) {
		var obj map[string]any
		if err := yaml.Unmarshal(doc, &obj); err != nil {
			t.Fatalf("%s: built output does not parse: %v", root, err)
		}
		apiVersion, _ := obj["apiVersion"].(string)
		kind, _ := obj["kind"].(string)
		s, ok := crdSchemas(t)[apiVersion+" "+kind]
		if !ok {
			if strings.Contains(apiVersion, "cnpg.io/") || kind == "Job" {
				t.Errorf("%s: no schema for %s %s", root, apiVersion, kind)
			}
			continue
		}
		j, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(inst); err != nil {
			t.Errorf("%s: %s %v does not validate against its schema: %v", root, kind, obj["metadata"], err)
		}
		n++
	}
	return n
}

// The validator must be able to fail: a typo'd field and a wrong type are refused.
func TestSchemaValidationRefusesBadObjects(t *testing.T) {
	s := crdSchemas(t)["postgresql.cnpg.io/v1 Cluster"]
	for _, bad := range []string{
		`{"apiVersion":"postgresql.cnpg.io/v1","kind":"Cluster","metadata":{"name":"x"},"spec":{"instances":1,"storage":{"size":"1Gi"},"bootstrap":{"recovery":{"sorce":"x"}}}}`,
		`{"apiVersion":"postgresql.cnpg.io/v1","kind":"Cluster","metadata":{"name":"x"},"spec":{"instances":"two","storage":{"size":"1Gi"}}}`,
	} {
		inst, err := jsonschema.UnmarshalJSON(strings.NewReader(bad))
		if err != nil {
			t.Fatal(err)
		}
		if s.Validate(inst) == nil {
			t.Errorf("Validate(%s) = nil, want an error", bad)
		}
	}
	job := crdSchemas(t)["batch/v1 Job"]
	for _, bad := range []string{
		`{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"x"},"spec":{"backofLimit":3,"template":{"spec":{"containers":[{"name":"c","image":"i"}]}}}}`,
		`{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"x"},"spec":{"backoffLimit":"3","template":{"spec":{"containers":[{"name":"c","image":"i"}]}}}}`,
		`{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"x"},"spec":{"template":{"spec":{"containers":[{"image":"i"}]}}}}`,
	} {
		inst, err := jsonschema.UnmarshalJSON(strings.NewReader(bad))
		if err != nil {
			t.Fatal(err)
		}
		if job.Validate(inst) == nil {
			t.Errorf("Validate(%s) = nil, want an error", bad)
		}
	}
}
