#!/usr/bin/env bash
# tools.sh — install what the tests need, once: Go tools into ./bin, Debian packages via apt.
# Idempotent and quick when everything is there. Run by `make tools` (and so `make test`).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$PWD/bin
mkdir -p "$bin"

VERSITYGW_VERSION=v1.8.0
GOLANGCI_LINT_VERSION=v2.15.0
GITEA_VERSION=v1.26.0

need_go_tool() { # name module version
  local stamp=$bin/.$1.version
  if [ -x "$bin/$1" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$3" ]; then return 0; fi
  echo "tools: installing $1 $3 into bin/" >&2
  GOBIN=$bin go install "$2@$3"
  echo "$3" >"$stamp"
}

need_go_tool versitygw github.com/versity/versitygw/cmd/versitygw "$VERSITYGW_VERSION"

# Gitea for the pull request tests. `go install` refuses its module (replace directives): build it
# from the downloaded module source with sqlite. Its templates and assets are read from that
# source tree at run time (STATIC_ROOT_PATH), recorded in bin/.gitea.root.
need_gitea() {
  local stamp=$bin/.gitea.version root
  if [ -x "$bin/gitea" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$GITEA_VERSION" ] && [ -d "$(cat "$bin/.gitea.root" 2>/dev/null)" ]; then return 0; fi
  echo "tools: building gitea $GITEA_VERSION into bin/ (once; a few minutes)" >&2
  root=$(cd "$(mktemp -d)" && go mod download -json "code.gitea.io/gitea@$GITEA_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  (cd "$root" && CGO_ENABLED=1 go build -trimpath -tags "sqlite sqlite_unlock_notify" \
      -ldflags "-s -w -X main.Version=${GITEA_VERSION#v}" -o "$bin/gitea" .)
  echo "$root" >"$bin/.gitea.root"
  echo "$GITEA_VERSION" >"$stamp"
}
[ "${TOOLS_GITEA:-1}" = 1 ] && need_gitea
if [ "${TOOLS_BENCH:-0}" = 1 ] && ! command -v aws >/dev/null; then
  bench_missing=awscli
fi
if [ "${TOOLS_LINT:-0}" = 1 ]; then
  need_go_tool golangci-lint github.com/golangci/golangci-lint/v2/cmd/golangci-lint "$GOLANGCI_LINT_VERSION"
fi

# Debian packages: PostgreSQL (server binaries) and barman-cli-cloud make the real catalogs.
missing=()
command -v barman-cloud-backup >/dev/null || missing+=(barman-cli-cloud)
command -v git >/dev/null || missing+=(git)
command -v chromium >/dev/null || missing+=(chromium)   # renders the Mermaid charts (hack/check-mermaid.sh)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
/usr/bin/python3 -c 'import boto3' 2>/dev/null || missing+=(python3-boto3)
[ -n "${bench_missing:-}" ] && missing+=("$bench_missing")
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo"; else
    echo "tools: missing Debian packages; install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "tools: apt-get install ${missing[*]}" >&2
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Mermaid, pinned by hack/mermaid/package-lock.json, for hack/check-mermaid.sh.
if [ ! -f hack/mermaid/node_modules/mermaid/dist/mermaid.min.js ]; then
  command -v npm >/dev/null || { echo "tools: npm is missing (Node.js), needed to check the Mermaid charts" >&2; exit 1; }
  echo "tools: npm ci in hack/mermaid (Mermaid for the chart check)" >&2
  (cd hack/mermaid && npm ci --silent --no-audit --no-fund >/dev/null)
fi
