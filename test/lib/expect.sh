# Shared by the shell tests of command-line programs:
#
#   source "$TEST_SRCDIR/ota/test/lib/expect.sh"
#   expect "name" 0 "text the output must contain" -- cmd args...
#   ...
#   finish      # prints the verdict, exits 1 if any check failed
#
# expect NAME WANT_RC WANT_TEXT -- CMD...: runs CMD, checks the exit code and
# that the combined output contains WANT_TEXT.
failures=0

expect() {
  local name="$1" want_rc="$2" want_text="$3"
  shift 4
  local output rc
  output="$("$@" 2>&1)"
  rc=$?
  if [[ "$rc" != "$want_rc" ]]; then
    echo "FAIL $name: exit $rc, want $want_rc"; echo "$output"; failures=$((failures + 1)); return
  fi
  if [[ "$output" != *"$want_text"* ]]; then
    echo "FAIL $name: output lacks: $want_text"; echo "$output"; failures=$((failures + 1)); return
  fi
  echo "ok   $name"
}

finish() {
  if [[ $failures -ne 0 ]]; then
    echo "$failures check(s) failed"
    exit 1
  fi
  echo "all checks passed"
}
