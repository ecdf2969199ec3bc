package catalog

// The catalog's tests have no golden files yet; the import defines -update so that
// `go test ./... -update` runs here too.
import _ "github.com/cnpg-restore-gen/cnpg-restore-gen/internal/testutil/golden"
