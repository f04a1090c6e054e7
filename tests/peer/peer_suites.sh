#!/usr/bin/env bash
# Peer suites: every chain and CRL case of ../shared/peer-suites (written
# outside this project, never edited here) played through `certgate verify`.
# Prints one line per disagreement, a summary per suite, per kind and per
# expected category, then "N passed, N failed". Fails when the agreement
# drops below FLOOR (the figure reached when this file was last changed), so
# a regression in the verdict engine shows here.
#
# Env: CERTGATE (the binary), CG_SOURCE_DIR, CG_TMPDIR (from ctest).
# PEER_VERBOSE=1 prints every case; PEER_ONLY=<id substring> runs a subset.
set -u

FLOOR=449

: "${CERTGATE:?CERTGATE must point at the certgate binary}"
: "${CG_SOURCE_DIR:?CG_SOURCE_DIR must point at the source tree}"
SUITES="$CG_SOURCE_DIR/../shared/peer-suites"
if [ ! -f "$SUITES/nist-pkits/manifest.tsv" ] || [ ! -f "$SUITES/chromium-pki/manifest.tsv" ]; then
    echo "FAIL: peer suites not found at $SUITES (expected nist-pkits/ and chromium-pki/ with manifest.tsv)" >&2
    exit 1
fi
TMP="${CG_TMPDIR:-/tmp}/peer_suites.$$"
mkdir -p "$TMP/empty-stores"
trap 'rm -rf "$TMP"' EXIT
RESULTS="$TMP/results.tsv"
: >"$RESULTS"

# manifest purpose -> --purpose
purpose_arg() {
    case "$1" in
        clientAuth) echo client ;;
        serverAuth) echo server ;;
        *) echo any ;;
    esac
}

run_case() {   # suite dir, then the manifest columns
    local suite=$1 id=$2 kind=$3 leaf=$4 inters=$5 anchors=$6 crls=$7 epoch=$9 purpose=${10}
    local options=${11} expected=${12} category=${13}
    local -a args=(verify "$suite/$leaf" --at "@$epoch" --purpose "$(purpose_arg "$purpose")" --json)
    local f opt revocation=off scope=chain sha1=--allow-sha1 anchor_validity="" anchor_constraints=""

    IFS=';' read -r -a list <<<"$inters"
    for f in "${list[@]}"; do [ "$f" = "-" ] || args+=(--chain "$suite/$f"); done
    if [ "$anchors" = "-" ]; then
        args+=(--stores "$TMP/empty-stores")   # no trust anchor at all
    else
        IFS=';' read -r -a list <<<"$anchors"
        for f in "${list[@]}"; do args+=(--root "$suite/$f"); done
    fi
    IFS=';' read -r -a list <<<"$crls"
    for f in "${list[@]}"; do [ "$f" = "-" ] || args+=(--crl "$suite/$f"); done
    IFS=';' read -r -a list <<<"$options"
    for opt in "${list[@]}"; do
        case "$opt" in
            crl_check_all) revocation=crl; scope=chain ;;
            crl_check_leaf) revocation=crl; scope=leaf ;;
            policy=*) args+=(--policy "${opt#policy=}") ;;
            explicit_policy) args+=(--explicit-policy) ;;
            inhibit_map) args+=(--inhibit-policy-mapping) ;;
            inhibit_any) args+=(--inhibit-any-policy) ;;
            max_crl_age=*) args+=(--max-crl-age "${opt#max_crl_age=}") ;;
            anchor_unconstrained) anchor_validity=0; anchor_constraints=0 ;;
            anchor_enforce_expiry) anchor_validity=1 ;;
            anchor_enforce_constraints) anchor_constraints=1 ;;
            # The CRL cases test revocation only: their CA is a bare anchor.
            anchor_is_intermediate) anchor_validity=0; anchor_constraints=0 ;;
            # Upstream refuses SHA-1 only under its strong digest policy.
            digest_policy_strong) sha1="" ;;
            eku_strict) args+=(--eku-strict chain) ;;
            eku_strict_leaf) args+=(--eku-strict leaf) ;;
            # Always on in the engine: extended CRL support, deltas, policy
            # processing. Informational: the rest (see the suite README).
            *) ;;
        esac
    done
    args+=(--revocation "$revocation" --revocation-scope "$scope" $sha1)
    # Upstream anchors check only what the options name; certgate's default
    # (everything) applies when the case says nothing about its anchor.
    if [ -n "$anchor_validity$anchor_constraints" ]; then
        case "${anchor_validity:-0}${anchor_constraints:-0}" in
            11) args+=(--anchor-checks all) ;;
            10) args+=(--anchor-checks validity) ;;
            01) args+=(--anchor-checks constraints) ;;
            00) args+=(--anchor-checks none) ;;
        esac
    fi

    local out err rc got reason
    out=$("$CERTGATE" "${args[@]}" 2>"$TMP/stderr")
    rc=$?
    err=$(head -c 300 "$TMP/stderr" | tr '\n\t' '  ')
    case $rc in
        0) got=accept; reason=ok ;;
        1) got=reject
           # the first "reason" member of the JSON is the verdict's
           reason=$(printf '%s\n' "$out" | sed -n 's/^ *"reason": "\(.*\)",*$/\1/p' | head -n 1) ;;
        2) # An input certgate refuses to read (a malformed CRL) is never accepted.
           got=reject; reason="input-error: $err" ;;
        *) got=crash; reason="exit $rc: $err" ;;
    esac
    local verdict=agree
    [ "$got" = "$expected" ] || verdict=DISAGREE
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(basename "$suite")" "$kind" "$id" "$expected" \
        "$category" "$got" "$reason" >>"$RESULTS"
    if [ "$verdict" = DISAGREE ] || [ "${PEER_VERBOSE:-0}" = 1 ]; then
        printf '%-9s %s: expected %s (%s), certgate %s (%s)\n' "$verdict" "$id" "$expected" \
            "$category" "$got" "$reason"
    fi
}

skipped=0
for name in nist-pkits chromium-pki; do
    suite="$SUITES/$name"
    while IFS=$'\t' read -r id kind leaf inters anchors crls ocsp vtime epoch purpose options expected category desc; do
        [ "$id" = id ] && continue
        if [ "$kind" = ocsp ]; then   # OCSP comes with the revocation issue
            skipped=$((skipped + 1))
            continue
        fi
        case "$id" in *"${PEER_ONLY:-}"*) ;; *) continue ;; esac
        run_case "$suite" "$id" "$kind" "$leaf" "$inters" "$anchors" "$crls" "$vtime" "$epoch" \
            "$purpose" "$options" "$expected" "$category"
    done <"$suite/manifest.tsv"
done

echo
awk -F'\t' -v skipped="$skipped" '
    function line(label, k) { printf "%s: %d/%d agree\n", label, a[k], n[k] }
    { ok = ($4 == $6); cat = ($4 == "accept") ? "accept" : $5
      keys[1] = $1; keys[2] = $1 " " $2; keys[3] = "category " cat; keys[4] = "all"
      for (i = 1; i <= 4; i++) { n[keys[i]]++; a[keys[i]] += ok; seen[keys[i]] = i } }
    END {
        for (k in seen) if (seen[k] == 1) line(k, k)
        for (k in seen) if (seen[k] == 2) line("  " k, k)
        for (k in seen) if (seen[k] == 3) line("  " k, k)
        printf "ocsp cases skipped: %d\n", skipped
        printf "%d passed, %d failed\n", a["all"], n["all"] - a["all"]
    }' "$RESULTS"

pass=$(awk -F'\t' '$4 == $6' "$RESULTS" | wc -l)
crashes=$(awk -F'\t' '$6 == "crash"' "$RESULTS" | wc -l)
if [ "$crashes" -gt 0 ]; then
    echo "FAIL: certgate verify crashed or misbehaved on $crashes case(s)" >&2
    exit 1
fi
if [ -z "${PEER_ONLY:-}" ] && [ "$pass" -lt "$FLOOR" ]; then
    echo "FAIL: $pass cases agree, below the floor of $FLOOR" >&2
    exit 1
fi
exit 0
