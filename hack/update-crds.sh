#!/usr/bin/env bash
# Vendors the CRD schemas the generator's tests validate against, from the Go module proxy
# (the release tags of CloudNativePG and the barman-cloud plugin carry them under
# config/crd/bases). Run it when moving to a newer CloudNativePG; commit the result.
set -euo pipefail
CNPG_VERSION=${CNPG_VERSION:-v1.30.0}
PLUGIN_VERSION=${PLUGIN_VERSION:-v0.15.0}
cd "$(dirname "$0")/.."
out=generator/testdata/crds
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && go mod init crds >/dev/null 2>&1 &&
	GOFLAGS=-mod=mod go mod download -json "github.com/cloudnative-pg/cloudnative-pg@$CNPG_VERSION" "github.com/cloudnative-pg/plugin-barman-cloud@$PLUGIN_VERSION" >dl.json)
cnpg=$(go env GOMODCACHE)/github.com/cloudnative-pg/cloudnative-pg@$CNPG_VERSION/config/crd/bases
plugin=$(go env GOMODCACHE)/github.com/cloudnative-pg/plugin-barman-cloud@$PLUGIN_VERSION/config/crd/bases
rm -rf "$out" && mkdir -p "$out"
for f in clusters scheduledbackups poolers databases; do
	gzip -9n <"$cnpg/postgresql.cnpg.io_$f.yaml" >"$out/postgresql.cnpg.io_$f.yaml.gz"
done
gzip -9n <"$plugin/barmancloud.cnpg.io_objectstores.yaml" >"$out/barmancloud.cnpg.io_objectstores.yaml.gz"
cat >"$out/VERSIONS" <<END
github.com/cloudnative-pg/cloudnative-pg $CNPG_VERSION config/crd/bases
github.com/cloudnative-pg/plugin-barman-cloud $PLUGIN_VERSION config/crd/bases
(vendored by hack/update-crds.sh)
END
ls -l "$out"
