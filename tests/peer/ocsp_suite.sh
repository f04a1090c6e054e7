#!/usr/bin/env bash
# Peer suite, OCSP part: the 36 OCSP cases of ../shared/peer-suites/chromium-pki
# (written outside this project, never edited here), each a leaf, its issuing
# CA and one saved response, played through
#   certgate verify LEAF --root CA --revocation ocsp --ocsp-response FILE
# at the case's time. Prints one line per disagreement, agreement per
# expected category, then "N passed, N failed". Fails below FLOOR, the figure
# reached when this file was last changed (plain OpenSSL agrees with 28).
#
# Env: CERTGATE, CG_SOURCE_DIR, CG_TMPDIR (from ctest). PEER_VERBOSE=1 prints
# every case.
set -u

FLOOR=35

: "${CERTGATE:?CERTGATE must point at the certgate binary}"
: "${CG_SOURCE_DIR:?CG_SOURCE_DIR must point at the source tree}"
SUITE="$CG_SOURCE_DIR/../shared/peer-suites/chromium-pki"
if [ ! -f "$SUITE/manifest.tsv" ]; then
    echo "FAIL: peer suite not found at $SUITE" >&2
    exit 1
fi
TMP="${CG_TMPDIR:-/tmp}/ocsp_suite.$$"
mkdir -p "$TMP"
trap 'rm -rf "$TMP"' EXIT
RESULTS="$TMP/results.tsv"
: >"$RESULTS"

while IFS=$'\t' read -r id kind leaf inters anchors crls ocsp vtime epoch purpose options expected category desc; do
    [ "$kind" = ocsp ] || continue
    args=(verify "$SUITE/$leaf" --root "$SUITE/$anchors" --at "@$epoch" --purpose any
          --revocation ocsp --ocsp-response "$SUITE/$ocsp" --revocation-scope leaf --json
          # the cases test the response, not the CA: a bare anchor (RFC 5280)
          --anchor-checks none)
    IFS=';' read -r -a list <<<"$options"
    for opt in "${list[@]}"; do
        case "$opt" in
            max_ocsp_age=*) args+=(--max-ocsp-age "${opt#max_ocsp_age=}") ;;
        esac
    done
    out=$("$CERTGATE" "${args[@]}" 2>"$TMP/stderr")
    rc=$?
    err=$(head -c 300 "$TMP/stderr" | tr '\n\t' '  ')
    case $rc in
        0) got=accept; reason=ok ;;
        1) got=reject
           reason=$(printf '%s\n' "$out" | sed -n 's/^ *"reason": "\(.*\)",*$/\1/p' | head -n 1) ;;
        2) got=reject; reason="input-error: $err" ;;
        *) got=crash; reason="exit $rc: $err" ;;
    esac
    # A reject must also be for the right reason: revoked vs unknown.
    ok=0
    if [ "$got" = "$expected" ]; then
        if [ "$got" = accept ] || [ "$reason" = "$category" ]; then ok=1; fi
    fi
    cat_label=$([ "$expected" = accept ] && echo good || echo "$category")
    printf '%s\t%s\t%s\t%s\t%s\n' "$id" "$cat_label" "$ok" "$got" "$reason" >>"$RESULTS"
    if [ "$ok" = 0 ] || [ "${PEER_VERBOSE:-0}" = 1 ]; then
        printf '%-9s %s: expected %s (%s), certgate %s (%s)\n' \
            "$([ "$ok" = 1 ] && echo agree || echo DISAGREE)" "$id" "$expected" "$category" \
            "$got" "$reason"
    fi
done <"$SUITE/manifest.tsv"

echo
awk -F'\t' '{ n[$2]++; a[$2] += $3; N++; A += $3 }
    END {
        for (k in n) printf "category %s: %d/%d agree\n", k, a[k], n[k]
        printf "%d passed, %d failed\n", A, N - A
    }' "$RESULTS"

total=$(wc -l <"$RESULTS")
pass=$(awk -F'\t' '$3 == 1' "$RESULTS" | wc -l)
crashes=$(awk -F'\t' '$4 == "crash"' "$RESULTS" | wc -l)
if [ "$total" -ne 36 ]; then
    echo "FAIL: expected 36 OCSP cases in the manifest, found $total" >&2
    exit 1
fi
if [ "$crashes" -gt 0 ]; then
    echo "FAIL: certgate verify crashed on $crashes case(s)" >&2
    exit 1
fi
if [ "$pass" -lt "$FLOOR" ]; then
    echo "FAIL: $pass cases agree, below the floor of $FLOOR" >&2
    exit 1
fi
