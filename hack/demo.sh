#!/usr/bin/env bash
# demo.sh — run cnpg-restore-gen on the sample catalog in testdata/sample (a real PostgreSQL +
# barman-cloud catalog with its payloads trimmed): no bucket, no credentials, no network.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
tool=$top/bin/cnpg-restore-gen
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -xzf "$top/testdata/sample/catalog.tar.gz" -C "$work"   # keeps the objects' archive times
cat_url=file://$work/pg

step() { printf '\n\033[1m$ %s\033[0m\n' "$*" | sed "s#$work#/tmp/sample#g"; }

step cnpg-restore-gen catalog list --catalog "$cat_url" --server-name pg-main
"$tool" catalog list --catalog "$cat_url" --server-name pg-main | sed "s#$work#/tmp/sample#g"

step cnpg-restore-gen catalog check --catalog "$cat_url" --server-name pg-main
rc=0
"$tool" catalog check --catalog "$cat_url" --server-name pg-main >"$work/out" 2>&1 || rc=$?
sed "s#$work#/tmp/sample#g" "$work/out"
echo "(exit code $rc: the path holds two database systems, so the tool refuses to guess)"

sys=$("$tool" catalog list --catalog "$cat_url" --server-name pg-main -o yaml |
  awk '/^lineages:/{f=1} f && /systemId:/{gsub(/"/,"",$NF); print $NF; exit}')
step cnpg-restore-gen catalog check --catalog "$cat_url" --server-name pg-main --system-id "$sys"
"$tool" catalog check --catalog "$cat_url" --server-name pg-main --system-id "$sys" | sed "s#$work#/tmp/sample#g"

step cnpg-restore-gen plan --cluster auth/pg-main --catalog "$cat_url" --system-id "$sys" --explain
"$tool" plan --cluster auth/pg-main --catalog "$cat_url" --system-id "$sys" --explain | sed "s#$work#/tmp/sample#g"

# The GitOps side: a copy of an Argo CD repo whose Authentik chart names the database, as a
# checkout whose origin is a local bare repository (no forge, no network).
cp -r "$top/generator/testdata/repos/argocd-helm" "$work/repo"
git() { command git -c user.name=demo -c user.email=demo@example.com -c init.defaultBranch=main "$@"; }
git init -q --bare "$work/remote.git"
(cd "$work/repo" && git init -q && git add . && git commit -qm "the GitOps repo" && git remote add origin "$work/remote.git" && git push -q origin main)
args=(--cluster auth/authentik-postgresql --catalog "$cat_url" --server-name pg-main --system-id "$sys" --quiet)

step cnpg-restore-gen pr --repo ./repo --cluster auth/authentik-postgresql --catalog "$cat_url" --server-name pg-main --system-id "$sys" --dry-run
(cd "$work" && "$tool" pr --repo ./repo "${args[@]}" --dry-run 2>&1) | sed "s#$work#/tmp/sample#g"

step cnpg-restore-gen pr --repo ./repo --cluster auth/authentik-postgresql ... --forge none
(cd "$work" && "$tool" pr --repo ./repo "${args[@]}" --forge none 2>&1) | sed "s#$work#/tmp/sample#g"
step git -C remote.git branch --list "restore/*"
git -C "$work/remote.git" branch --list 'restore/*'
