#!/usr/bin/env bash
# demo-files.sh DIR — lay out the sample for trying the tool by hand (README, "Five minutes on
# the sample"), with no bucket, no credentials and no network:
#   DIR/catalog     the real barman-cloud catalog of testdata/sample (server name pg-main)
#   DIR/repo        a GitOps repo (Argo CD + Helm) whose cluster auth/authentik-postgresql
#                   uses it, as a git checkout
#   DIR/remote.git  the checkout's origin, a local bare repository
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:?usage: demo-files.sh DIR}
mkdir -p "$dir" && dir=$(cd "$dir" && pwd)
rm -rf "$dir/catalog" "$dir/repo" "$dir/remote.git"
mkdir -p "$dir/catalog"
tar -xzf "$top/testdata/sample/catalog.tar.gz" -C "$dir/catalog" --strip-components=1   # keeps the archive times
cp -r "$top/generator/testdata/repos/argocd-helm" "$dir/repo"
git() { command git -c user.name=demo -c user.email=demo@example.com -c init.defaultBranch=main "$@"; }
git init -q --bare "$dir/remote.git"
(cd "$dir/repo" && git init -q && git add . && git commit -qm "the GitOps repo" &&
  git remote add origin "$dir/remote.git" && git push -q origin main)
