#!/usr/bin/env bash
# check-mermaid.sh — render every Mermaid chart the tool writes (the golden pull request bodies
# and catalog pictures, and the README's) with Mermaid 11 in headless Chromium, as GitHub and
# Gitea do in the browser, and fail when one does not render or draws no bar. Run by make test.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
mm=$top/hack/mermaid
command -v chromium >/dev/null || { echo "check-mermaid: chromium is missing: run make tools" >&2; exit 1; }
[ -f "$mm/node_modules/mermaid/dist/mermaid.min.js" ] || { echo "check-mermaid: mermaid is missing: run make tools" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$top" "$mm" "$work/page.html" <<'PY'
import glob, json, os, re, sys
top, mm, out = sys.argv[1:]
charts = []
files = sorted(glob.glob(f"{top}/testdata/golden/**/*.md", recursive=True) + glob.glob(f"{top}/testdata/golden/**/*.mmd", recursive=True)
               + glob.glob(f"{top}/testdata/golden/**/*.mermaid", recursive=True) + [f"{top}/README.md"])
for f in files:
    text = open(f, encoding="utf-8").read()
    blocks = re.findall(r"```mermaid\n(.*?)```", text, re.S) if not f.endswith((".mmd", ".mermaid")) else [text]
    for b in blocks:
        charts.append({"file": os.path.relpath(f, top), "src": b})
if not charts:
    sys.exit("check-mermaid: no charts found")
page = f"""<!doctype html><html><body><div id="out"></div><pre id="res">pending</pre>
<script src="file://{mm}/node_modules/mermaid/dist/mermaid.min.js"></script>
<script>
mermaid.initialize({{startOnLoad: false}});
(async () => {{
  const charts = {json.dumps(charts)};
  const res = [];
  for (const [i, c] of charts.entries()) {{
    try {{
      const {{svg}} = await mermaid.render('chart' + i, c.src);
      const bars = (svg.match(/<rect[^>]*class="task /g) || []).length;
      res.push((bars > 0 && !svg.includes('Syntax error') ? 'ok ' : 'FAIL ') + c.file + ': ' + bars + ' bars');
    }} catch (e) {{
      res.push('FAIL ' + c.file + ': ' + String(e.message || e).split('\\n')[0]);
    }}
  }}
  document.getElementById('res').textContent = 'done\\n' + res.join('\\n');
}})();
</script></body></html>"""
open(out, "w", encoding="utf-8").write(page)
PY
dom=$(timeout 120 chromium --headless --no-sandbox --disable-gpu --allow-file-access-from-files \
  --virtual-time-budget=30000 --dump-dom "file://$work/page.html" 2>/dev/null)
res=$(sed -n '/<pre id="res">/,/<\/pre>/p' <<<"$dom" | sed 's/<[^>]*>//g')
grep -q '^done' <<<"$res" || { echo "check-mermaid: the page did not finish rendering"; exit 1; }
ok=$(grep -c '^ok ' <<<"$res" || true)
if grep -q '^FAIL ' <<<"$res"; then
  grep '^FAIL ' <<<"$res"
  exit 1
fi
echo "check-mermaid: $ok charts render with Mermaid $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$mm/node_modules/mermaid/package.json") in Chromium"
