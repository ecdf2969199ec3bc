#!/usr/bin/env bash
# make-sample.sh — remake testdata/sample/catalog.tar.gz, the sample catalog `make demo` uses.
#
# Runs hack/make-catalog.sh (real PostgreSQL + barman-cloud into a real S3 server), then keeps
# the catalog small: every WAL segment is cut to its first 8 KiB page (which holds the header
# the tool reads: system identifier, timeline, page address) and re-compressed, and data.tar.gz
# payloads are replaced by an empty gzip stream. backup.info, .history and .backup files are
# kept byte for byte, and every file keeps its real archive time (mtime), which tar preserves.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
work=$top/.cache/sample-work
"$top/hack/make-catalog.sh" "$work"
src=$work/s3/catalog/pg
out=$work/export
rm -rf "$out"; mkdir -p "$out"
cp -a "$src" "$out/"
find "$out" -type f | while read -r f; do
  case "$f" in
    */wals/*.history*|*.backup.gz|*/backup.info) ;;
    */wals/*.gz)
      tmp=$f.tmp
      { zcat "$f" | head -c 8192 || true; } | gzip -n -9 >"$tmp"
      touch -r "$f" "$tmp"; mv "$tmp" "$f" ;;
    */base/*/data.tar.gz)
      tmp=$f.tmp
      gzip -n </dev/null >"$tmp"; touch -r "$f" "$tmp"; mv "$tmp" "$f" ;;
  esac
done
cp "$work/markers.tsv" "$out/pg/markers.tsv"
touch -r "$src/pg-main" "$out/pg/markers.tsv"
mkdir -p "$top/testdata/sample"
tar --sort=name --owner=0 --group=0 --numeric-owner -C "$out" -czf "$top/testdata/sample/catalog.tar.gz" pg
echo "make-sample: wrote testdata/sample/catalog.tar.gz ($(du -h "$top/testdata/sample/catalog.tar.gz" | cut -f1))"
