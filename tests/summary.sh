#!/bin/sh
# summary.sh BUILDDIR: add up the individual checks of every test log after
# `make check` (cmocka cases, ok:/FAIL: lines of the shell tests) and print
# what was skipped and why, then one closing "N passed, N failed, N skipped".

dir=${1:-.}
passed=0 failed=0 skipped=0
for log in $(find "$dir/tests" -name '*.log' ! -name 'test-suite.log' 2>/dev/null | sort); do
    trs=${log%.log}.trs
    result=$(sed -n 's/^:test-result: //p' "$trs" 2>/dev/null | head -1)
    name=${log#"$dir"/}
    if [ "$result" = SKIP ]; then
        skipped=$((skipped + 1))
        echo "skipped: ${name%.log}: $(grep -m1 '^SKIP:' "$log" | sed 's/^SKIP: //')"
        continue
    fi
    # cmocka: "[       OK ] name" and "[  FAILED  ] name" per case.
    ok=$(grep -c '^\[       OK \]' "$log")
    bad=$(grep -c '^\[  FAILED  \] [a-z]' "$log")
    # shell tests: "ok: ..." / "PASS ..." and "FAIL: ..." / "FAIL ..." per
    # check; "skip: ..." / "SKIP ..." per skipped part.
    ok=$((ok + $(grep -c -e '^ok: ' -e '^PASS ' "$log")))
    bad=$((bad + $(grep -c -e '^FAIL: ' -e '^FAIL ' "$log")))
    skp=$(grep -c -e '^skip: ' -e '^SKIP ' "$log")
    grep -e '^skip: ' -e '^SKIP ' "$log" | sed -e "s|^skip: |skipped: ${name%.log}: |" \
        -e "s|^SKIP |skipped: ${name%.log}: |"
    if [ "$result" = FAIL ] || [ "$result" = ERROR ]; then
        [ "$bad" -gt 0 ] || bad=1
        echo "failed: ${name%.log}"
    fi
    passed=$((passed + ok)); failed=$((failed + bad)); skipped=$((skipped + skp))
done
echo "checks: $passed passed, $failed failed, $skipped skipped"
