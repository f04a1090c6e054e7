#!/usr/bin/env bash
# `certgate verify` on every demo client certificate: exit codes, the JSON
# verdict and path, and the text tree. The demo PKI is generated here, now.
set -u
: "${CERTGATE:?CERTGATE must point at the certgate binary}"
TMP="${CG_TMPDIR:-/tmp}/verify_cli.$$"
mkdir -p "$TMP"
trap 'rm -rf "$TMP"' EXIT
failures=0

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

"$CERTGATE" pki demo "$TMP/demo" >/dev/null || { echo "FAIL: certgate pki demo" >&2; exit 1; }
STORES="$TMP/demo/stores"

# field FILE EXPR: evaluates a Python expression on the parsed JSON `j`.
field() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

# case  expected-exit  reason  code  element-with-problem  source-of-top
check() {
    local name=$1 want_rc=$2 want_reason=$3 want_code=$4 elem=$5 top_source=$6
    local pem="$TMP/demo/clients/$name.pem" json="$TMP/$name.json" txt="$TMP/$name.txt" rc

    "$CERTGATE" verify "$pem" --stores "$STORES" --json >"$json" 2>"$TMP/err"
    rc=$?
    [ "$rc" = "$want_rc" ] || fail "$name --json: exit $rc, expected $want_rc ($(cat "$TMP/err"))"
    [ "$(field "$json" 'j["verdict"]["reason"]')" = "$want_reason" ] ||
        fail "$name: reason $(field "$json" 'j["verdict"]["reason"]'), expected $want_reason"
    [ "$(field "$json" 'j["verdict"]["code"]')" = "$want_code" ] || fail "$name: code"
    [ "$(field "$json" 'j["verdict"]["status"]')" = "${want_code%%.*}" ] || fail "$name: status"
    [ "$(field "$json" 'len(j["path"][0]["sha256"])')" = 64 ] || fail "$name: leaf sha256"
    [ "$(field "$json" 'j["path"][0]["source"]')" = client ] || fail "$name: leaf source"
    [ "$(field "$json" 'j["path"][-1]["source"]')" = "$top_source" ] ||
        fail "$name: top source $(field "$json" 'j["path"][-1]["source"]'), expected $top_source"
    if [ "$elem" != - ]; then
        [ "$(field "$json" "any(p['reason'] == '$want_reason' and not p.get('advisory') for p in j['path'][$elem]['problems'])")" = True ] ||
            fail "$name: no $want_reason problem at path[$elem]"
    else
        [ "$(field "$json" 'sum(len([p for p in e["problems"] if not p.get("advisory")]) for e in j["path"])')" = 0 ] ||
            fail "$name: problems on an accepted path"
    fi
    [ "$(field "$json" 'isinstance(j["remedy"], list)')" = True ] || fail "$name: remedy not a list"

    "$CERTGATE" verify "$pem" --stores "$STORES" >"$txt" 2>"$TMP/err"
    rc=$?
    [ "$rc" = "$want_rc" ] || fail "$name text: exit $rc, expected $want_rc"
    grep -q "^Verdict: .* $want_code $want_reason: " "$txt" || fail "$name: no verdict line in text output"
    # not a terminal: plain ASCII marks only
    if [ "$want_rc" = 0 ]; then
        grep -q '^\[OK\] ' "$txt" || fail "$name: no [OK] root mark"
    else
        grep -q '\[X\]' "$txt" || fail "$name: no [X] mark"
    fi
    LC_ALL=C grep -q '[^ -~]' "$txt" && fail "$name: non-ASCII output to a pipe"
}

check valid            0 ok               200    -  root-store
check expired          1 expired          403.17 0  root-store
check not-yet-valid    1 not-yet-valid    403.17 0  root-store
check revoked          1 revoked          403.13 0  root-store
check untrusted        1 untrusted-root   403.16 -1 client
check wrong-usage      1 wrong-usage      403.16 0  root-store
check incomplete-chain 1 incomplete-chain 403.16 -1 missing

# The remedies say what to run.
grep -q 'certgate store import .* --to root' "$TMP/untrusted.txt" || fail "untrusted: no import --to root remedy"
grep -q 'thumbprint' "$TMP/untrusted.txt" || fail "untrusted: no thumbprint warning"
grep -q 'certgate store import .* --to intermediate' "$TMP/incomplete-chain.txt" ||
    fail "incomplete-chain: no import --to intermediate remedy"
grep -q 'Unlisted Intermediate\|CN=' "$TMP/incomplete-chain.txt" || fail "incomplete-chain: issuer not named"

# The same verdict from the PKCS#12 (password file) and with ad-hoc trust.
printf 'certgate\n' >"$TMP/pw"
"$CERTGATE" verify "$TMP/demo/clients/valid.p12" --password-file "$TMP/pw" --stores "$STORES" >/dev/null ||
    fail "valid.p12: not accepted"
"$CERTGATE" verify "$TMP/demo/clients/valid.pem" --root "$TMP/demo/ca/root.pem" --revocation off >/dev/null ||
    fail "valid.pem with --root: not accepted"
# A non-self-signed --root is an anchor ("trust only this intermediate").
"$CERTGATE" verify "$TMP/demo/clients/valid.pem" --root "$TMP/demo/ca/intermediate.pem" --revocation off >/dev/null ||
    fail "valid.pem with the intermediate as --root: not accepted"
# --at moves the clock: "expired" was fine before its notAfter.
na=$(field "$TMP/expired.json" 'j["path"][0]["not_after"]')
nb=$(field "$TMP/expired.json" 'j["path"][0]["not_before"]')
"$CERTGATE" verify "$TMP/demo/clients/expired.pem" --stores "$STORES" --revocation off --at "$nb" >/dev/null 2>&1
[ $? = 0 ] || fail "expired at its notBefore ($nb): not accepted"
"$CERTGATE" verify "$TMP/demo/clients/revoked.pem" --stores "$STORES" --revocation off >/dev/null ||
    fail "revoked with --revocation off: not accepted"

# Usage and input errors: exit 2 and a message naming the file.
expect_2() {
    local what=$1; shift
    "$CERTGATE" verify "$@" >/dev/null 2>"$TMP/err"
    local rc=$?
    [ "$rc" = 2 ] || fail "$what: exit $rc, expected 2"
    [ -s "$TMP/err" ] || fail "$what: no message"
}
expect_2 "no argument" --stores "$STORES"
expect_2 "no trust" "$TMP/demo/clients/valid.pem"
expect_2 "bad --at" "$TMP/demo/clients/valid.pem" --stores "$STORES" --at yesterday
expect_2 "bad --purpose" "$TMP/demo/clients/valid.pem" --stores "$STORES" --purpose email
expect_2 "unknown option" "$TMP/demo/clients/valid.pem" --stores "$STORES" --frobnicate
: >"$TMP/empty.pem"
expect_2 "empty file" "$TMP/empty.pem" --stores "$STORES"
grep -q "empty.pem" "$TMP/err" || fail "empty file: message does not name the file"
head -c 300 "$TMP/demo/clients/valid.pem" >"$TMP/truncated.pem"
expect_2 "truncated file" "$TMP/truncated.pem" --stores "$STORES"
grep -q "truncated.pem" "$TMP/err" || fail "truncated file: message does not name the file"
expect_2 "missing file" "$TMP/nope.pem" --stores "$STORES"
expect_2 "crl option given a certificate" "$TMP/demo/clients/valid.pem" --root "$TMP/demo/ca/root.pem" --crl "$TMP/demo/ca/root.pem"
printf 'wrong\n' >"$TMP/badpw"
expect_2 "wrong p12 password" "$TMP/demo/clients/valid.p12" --password-file "$TMP/badpw" --stores "$STORES"

if [ "$failures" -gt 0 ]; then
    echo "$failures failure(s)" >&2
    exit 1
fi
echo "verify_cli: all checks passed"
