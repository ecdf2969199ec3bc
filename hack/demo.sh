#!/usr/bin/env bash
# demo.sh — run cnpg-restore-gen on the sample catalog in testdata/sample (a real PostgreSQL +
# barman-cloud catalog with its payloads trimmed): no bucket, no credentials, no network.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
tool=$top/bin/cnpg-restore-gen
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$top/hack/demo-files.sh" "$work"   # the sample catalog, a sample GitOps repo and its origin
cat_url=file://$work/catalog

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold="" plain=""; fi
step() { printf '\n%s$ %s%s\n' "$bold" "$*" "$plain" | sed "s#$work#/tmp/demo#g"; }

step cnpg-restore-gen catalog list --catalog "$cat_url" --server-name pg-main
"$tool" catalog list --catalog "$cat_url" --server-name pg-main | sed "s#$work#/tmp/demo#g"

step cnpg-restore-gen catalog check --catalog "$cat_url" --server-name pg-main
rc=0
"$tool" catalog check --catalog "$cat_url" --server-name pg-main >"$work/out" 2>&1 || rc=$?
sed "s#$work#/tmp/demo#g" "$work/out"
echo "(exit code $rc: the path holds two database systems, so the tool refuses to guess)"

sys=$("$tool" catalog list --catalog "$cat_url" --server-name pg-main -o yaml |
  awk '/^lineages:/{f=1} f && /systemId:/{gsub(/"/,"",$NF); print $NF; exit}')
step cnpg-restore-gen catalog check --catalog "$cat_url" --server-name pg-main --system-id "$sys"
"$tool" catalog check --catalog "$cat_url" --server-name pg-main --system-id "$sys" | sed "s#$work#/tmp/demo#g"

step cnpg-restore-gen plan --cluster auth/pg-main --catalog "$cat_url" --system-id "$sys" --explain
"$tool" plan --cluster auth/pg-main --catalog "$cat_url" --system-id "$sys" --explain | sed "s#$work#/tmp/demo#g"

# The GitOps side: $work/repo, an Argo CD repo whose Authentik chart names the database, as a
# checkout whose origin is a local bare repository (no forge, no network).
# The same inputs as the README's "What you get" (TestREADMEWhatYouGetIsThePullRequest checks it
# against the dry-run golden of TestPRDryRunPrintsBranchDiffAndBodyAndTouchesNothing).
args=(--cluster auth/authentik-postgresql --catalog "$cat_url" --server-name pg-main --system-id "$sys" --target-time "2026-11-24 17:52:45+00" --quiet)

step cnpg-restore-gen pr --repo ./repo --cluster auth/authentik-postgresql --catalog "$cat_url" --server-name pg-main --system-id "$sys" --target-time '"2026-11-24 17:52:45+00"' --dry-run
(cd "$work" && "$tool" pr --repo ./repo "${args[@]}" --dry-run 2>&1) | sed "s#$work#/tmp/demo#g"

step cnpg-restore-gen pr --repo ./repo --cluster auth/authentik-postgresql ... --forge none
(cd "$work" && "$tool" pr --repo ./repo "${args[@]}" --forge none 2>&1) | sed "s#$work#/tmp/demo#g"
step git -C remote.git branch --list "restore/*"
git -C "$work/remote.git" branch --list 'restore/*'
