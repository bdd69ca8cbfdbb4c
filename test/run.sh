#!/usr/bin/env bash
# Runs every test: installs what is missing, builds, runs `bazel test //...`
# and ends with the line "N passed, N failed" (N counts test cases: each
# gtest case, each shell test). Exits non-zero when anything failed.
#
#   bash test/run.sh                 # everything
#   bash test/run.sh //common/...    # a subset
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bash deploy/install-deps.sh || { echo "0 passed, 1 failed"; exit 1; }
bash test/web/install.sh || { echo "0 passed, 1 failed"; exit 1; }

targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(//...)

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
bazel test --test_summary=short "${targets[@]}" 2>&1 | tee "$log"
bazel_rc=${PIPESTATUS[0]}

testlogs="$(bazel info bazel-testlogs 2>/dev/null)"
python3 - "$log" "$testlogs" "$bazel_rc" <<'PY'
import os, re, sys, xml.etree.ElementTree as ET

log, testlogs, bazel_rc = sys.argv[1], sys.argv[2], int(sys.argv[3])
passed = failed = 0
seen = 0
line_re = re.compile(r'^(//\S+)\s+(?:\(cached\)\s+)?(PASSED|FAILED|FLAKY|TIMEOUT|NO STATUS|FAILED TO BUILD|INCOMPLETE|REMOTE FAILURE)')
for line in open(log, errors="replace"):
    m = line_re.match(line.strip())
    if not m:
        continue
    seen += 1
    target, status = m.group(1), m.group(2)
    if status not in ("PASSED", "FAILED", "FLAKY"):
        print(f"{target}: {status}")
        failed += 1
        continue
    path = os.path.join(testlogs, target[2:].replace(":", "/"), "test.xml")
    try:
        suites = ET.parse(path).getroot()
        cases = suites.iter("testcase")
        t = f = 0
        for c in cases:
            t += 1
            if c.find("failure") is not None or c.find("error") is not None:
                f += 1
        if t == 0:
            t, f = 1, (0 if status == "PASSED" else 1)
        if status != "PASSED" and f == 0:
            f = 1
        passed += t - f
        failed += f
    except (OSError, ET.ParseError):
        passed += status == "PASSED"
        failed += status != "PASSED"
if seen == 0 and bazel_rc != 0:
    failed += 1  # the build failed before any test ran
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed or bazel_rc != 0 else 0)
PY
