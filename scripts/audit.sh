#!/usr/bin/env bash
# Dependency audit: pip-audit over the exact versions installed in .venv, which
# are the versions requirements*.txt resolve to (transitive ones and the --no-deps
# ML packages included). Known exceptions are listed below and explained in
# docs/deploy.md ("Dependency audit"); add one only together with that entry.
#
#   scripts/audit.sh                      # exit 0 clean, 1 vulnerable, 3 audit not performed
#   scripts/audit.sh --allow-unreachable  # exit 0 (with a loud SKIPPED line) when no
#                                         # vulnerability service can be reached
set -euo pipefail
cd "$(dirname "$0")/.."

PIP_AUDIT_VERSION=2.10.1
AUDIT_VENV=var/audit-venv  # its own venv: the auditor's dependencies stay out of the app's
# Known exceptions: "ID  reason" (see docs/deploy.md). None at present.
KNOWN_EXCEPTIONS=(
)

allow_unreachable=0
if [[ "${1:-}" == "--allow-unreachable" ]]; then allow_unreachable=1; shift; fi

[[ -x .venv/bin/python ]] || scripts/install.sh
if [[ ! -x "$AUDIT_VENV/bin/pip-audit" ]] || [[ "$("$AUDIT_VENV/bin/pip-audit" --version)" != "pip-audit $PIP_AUDIT_VERSION" ]]; then
  python3 -m venv "$AUDIT_VENV"
  "$AUDIT_VENV/bin/pip" install -q "pip-audit==$PIP_AUDIT_VERSION"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
.venv/bin/python -m pip freeze --exclude-editable >"$work/frozen.txt"
ignores=()
for entry in "${KNOWN_EXCEPTIONS[@]}"; do ignores+=(--ignore-vuln "${entry%% *}"); done

# --no-deps --disable-pip: audit the frozen pins as they are, without resolving or installing.
status=0
"$AUDIT_VENV/bin/pip-audit" -r "$work/frozen.txt" --no-deps --disable-pip --progress-spinner off \
  --format json --output "$work/report.json" "${ignores[@]}" "$@" 2>"$work/stderr" || status=$?

"$AUDIT_VENV/bin/python" - "$work/report.json" "$status" "$allow_unreachable" <<'PY'
import json, sys

path, status, allow_unreachable = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
try:
    report = json.load(open(path))
except (OSError, ValueError):
    sys.exit(f"pip-audit produced no report (exit {status}); see its output above")
deps = report.get("dependencies", [])
skipped = [d for d in deps if "skip_reason" in d]
audited = [d for d in deps if "skip_reason" not in d]
vulnerable = [d for d in audited if d.get("vulns")]
for dep in vulnerable:
    for vuln in dep["vulns"]:
        fixes = ", ".join(vuln.get("fix_versions", [])) or "no fix yet"
        print(f"VULNERABLE {dep['name']} {dep['version']}: {vuln['id']} (fixed in: {fixes})")
print(f"pip-audit: {len(audited)} packages audited, {len(vulnerable)} vulnerable, {len(skipped)} not audited")
if not audited:
    reason = skipped[0]["skip_reason"] if skipped else "no dependencies"
    print(f"AUDIT NOT PERFORMED: no vulnerability data could be fetched ({reason}).")
    sys.exit(0 if allow_unreachable else 3)
for dep in skipped:
    print(f"not audited: {dep['name']} {dep['version']}: {dep['skip_reason']}")
sys.exit(1 if vulnerable else 0)
PY
