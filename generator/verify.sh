#!/bin/sh
# Verifies a restored CloudNativePG cluster before the application is moved to it. Written by
# cnpg-restore-gen; the checks are the *.sql files listed in checks.tsv beside this script
# (name, database or "-" for PGDATABASE, file; separated by tabs).
#
# It connects with libpq's environment (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE,
# PGSSLMODE), read-only (PGOPTIONS sets default_transaction_read_only), waits up to
# VERIFY_WAIT_SECONDS for the cluster to accept connections, then runs every check once and
# prints one line per check: "ok   NAME: detail" or "FAIL NAME: detail". It exits 0 when every
# check passed, 1 otherwise.
set -u
dir=$(dirname "$0")
wait_seconds=${VERIFY_WAIT_SECONDS:-600}
tab=$(printf '\t')

echo "verifying the restored cluster through ${PGHOST:-the local socket}:${PGPORT:-5432} as ${PGUSER:-?}, database ${PGDATABASE:-?} (read-only)"
end=$(($(date +%s) + wait_seconds))
until err=$(psql -X -q -At -c 'SELECT 1' </dev/null 2>&1); do
	if [ "$(date +%s)" -ge "$end" ]; then
		echo "FAIL reachable: no connection within ${wait_seconds}s: $(printf '%s' "$err" | head -n 1)"
		exit 1
	fi
	sleep 5
done
echo "ok   reachable: the cluster accepts connections"

failed=0
while IFS="$tab" read -r name database file; do
	[ -n "$name" ] || continue
	if [ "$database" != "-" ]; then
		out=$(psql -X -q -At -F "$tab" -v ON_ERROR_STOP=1 -d "$database" -f "$dir/$file" </dev/null 2>&1)
	else
		out=$(psql -X -q -At -F "$tab" -v ON_ERROR_STOP=1 -f "$dir/$file" </dev/null 2>&1)
	fi
	rc=$?
	first=$(printf '%s\n' "$out" | head -n 1)
	ok=${first%%"$tab"*}
	detail=${first#*"$tab"}
	if [ "$rc" -eq 0 ] && [ "$ok" = t ]; then
		echo "ok   $name: $detail"
	elif [ "$rc" -eq 0 ] && [ "$ok" = f ]; then
		echo "FAIL $name: $detail"
		failed=$((failed + 1))
	elif [ "$rc" -eq 0 ]; then
		echo "FAIL $name: the check returned no result (${first:-no row})"
		failed=$((failed + 1))
	else
		echo "FAIL $name: $(printf '%s' "$out" | tr '\n' ' ')"
		failed=$((failed + 1))
	fi
done <"$dir/checks.tsv"

if [ "$failed" -gt 0 ]; then
	echo "verification FAILED: $failed check(s); the cutover must not be applied"
	exit 1
fi
echo "verification passed"
