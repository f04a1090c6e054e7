#!/usr/bin/env bash
# `certgate store import|list|show|remove`: every import format, the store
# rules with their exit codes, and bad input that must leave the stores as
# they were. The PKI is generated here, now, with `certgate pki`.
set -u
: "${CERTGATE:?CERTGATE must point at the certgate binary}"
T="${CG_TMPDIR:-/tmp}/store_cli.$$"
rm -rf "$T"
mkdir -p "$T"
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
failures=0

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }
run() {
    local want=$1 name=$2 rc
    shift 2
    "$@" >"$T/out" 2>"$T/err"
    rc=$?
    if [ "$rc" = "$want" ]; then ok "$name (exit $rc)"; else
        fail "$name: exit $rc, expected $want; stdout: $(head -c 300 "$T/out"); stderr: $(head -c 400 "$T/err")"
    fi
}
has() {
    if grep -Eq -- "$2" "$1"; then ok "$3"; else fail "$3: /$2/ not in $(head -c 600 "$1")"; fi
}
thumb() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f; }
# A fingerprint of the stores tree: names and contents.
snap() { (cd "$S" 2>/dev/null && find . -type f -print0 | sort -z | xargs -0 -r sha256sum) ; }

C="$CERTGATE"
S="$T/stores"
P() { "$C" pki "$@" >/dev/null || fail "pki $*"; }

P issue --profile root --cn "Store Root" --out root.pem --key-out root.key
P issue --profile intermediate --cn "Store Intermediate" --issuer root.pem --issuer-key root.key --out inter.pem --key-out inter.key
P issue --profile client --cn "store client" --issuer inter.pem --issuer-key inter.key --out client.pem --key-out client.key
P issue --profile root --cn "Other Root" --out other.pem --key-out other.key
P crl --issuer inter.pem --issuer-key inter.key --revoke client.pem --out inter.crl
RT=$(thumb root.pem)
IT=$(thumb inter.pem)
CT=$(thumb client.pem)

# ---- usage ------------------------------------------------------------------
run 0 "store --help" "$C" store --help
has "$T/out" "import FILE" "help lists import"
run 2 "store without a command" "$C" store
run 2 "store unknown command" "$C" store frob --stores "$S"
run 2 "import without a file" "$C" store import --stores "$S"
run 2 "list with an import option" "$C" store list --stores "$S" --force
run 2 "import bad --to" "$C" store import root.pem --to trusted --stores "$S"
has "$T/err" "bad --to 'trusted'" "bad --to named"
run 2 "list of a missing stores dir" "$C" store list --stores "$S"
has "$T/err" "stores: stores directory" "missing stores dir named"

# ---- classification, idempotence ---------------------------------------------
run 0 "import root" "$C" store import root.pem --stores "$S"
has "$T/out" "^added to root: $RT  CN=Store Root$" "root added, by thumbprint"
[ -f "$S/root/$RT.pem" ] && ok "file named by thumbprint" || fail "no $S/root/$RT.pem"
before=$(snap)
run 0 "re-import root" "$C" store import root.pem --stores "$S"
has "$T/out" "^already in root: $RT" "re-import is a no-op"
[ "$before" = "$(snap)" ] && ok "re-import changed nothing" || fail "re-import changed the stores"

# ---- refusals ----------------------------------------------------------------
before=$(snap)
run 1 "intermediate --to root refused" "$C" store import inter.pem --to root --stores "$S"
has "$T/err" "refusing to put 'Store Intermediate' \($IT\) in root/: it is an intermediate CA" "refusal explains"
has "$T/err" "nothing imported" "refusal says nothing was imported"
run 1 "root --to intermediate refused" "$C" store import root.pem --to intermediate --stores "$S"
has "$T/err" "self-signed root CA" "root-into-intermediate explained"
run 1 "client certificate refused" "$C" store import client.pem --stores "$S"
has "$T/err" "'store client' \($CT\) is not a CA certificate" "non-CA named"
has "$T/err" "--to disallowed" "non-CA refusal gives the way out"
cat root.pem inter.pem client.pem >bundle.pem
run 1 "bundle with a client refused whole" "$C" store import bundle.pem --stores "$S"
[ "$before" = "$(snap)" ] && ok "refusals left the stores unchanged" || fail "a refusal changed the stores"
[ ! -e "$S/intermediate/$IT.pem" ] && ok "no part of the bundle imported" || fail "bundle partly imported"

run 0 "intermediate --to root --force" "$C" store import inter.pem --to root --force --stores "$S"
has "$T/err" "warning: forced into root/" "forced import warns"
run 0 "list flags the intermediate in root" "$C" store list --stores "$S"
has "$T/out" "! not self-signed" "list flags non-self-signed in root"
run 0 "remove it from root" "$C" store remove "${IT:0:12}" --store root --stores "$S"
has "$T/out" "^removed from root: $IT" "removed"
run 0 "client --to disallowed" "$C" store import client.pem --to disallowed --stores "$S"
[ -f "$S/disallowed/$CT.pem" ] && ok "client in disallowed/" || fail "client not in disallowed/"

# ---- CRLs ----------------------------------------------------------------------
before=$(snap)
run 1 "CRL before its issuer" "$C" store import inter.crl --stores "$S"
has "$T/err" "issuer 'Store Intermediate' is not in root/ or intermediate/" "missing CRL issuer named"
[ "$before" = "$(snap)" ] && ok "refused CRL left the stores unchanged" || fail "refused CRL changed the stores"
run 0 "intermediate auto" "$C" store import inter.pem --stores "$S"
has "$T/out" "^added to intermediate: $IT" "intermediate classified"
run 0 "CRL after its issuer" "$C" store import inter.crl --stores "$S"
has "$T/out" "^added to crl: [0-9a-f]{64}  CN=Store Intermediate" "CRL added"
P crl --issuer other.pem --issuer-key other.key --out other.crl
run 1 "CRL of an unknown CA" "$C" store import other.crl --stores "$S"
P crl --issuer root.pem --issuer-key root.key --this-update -10d --next-update -1d --out stale.crl
run 0 "stale CRL imports with a warning" "$C" store import stale.crl --stores "$S"
has "$T/err" "warning: .*nextUpdate .* has passed" "stale CRL warned"

# ---- formats ------------------------------------------------------------------------
rm -rf "$S"
openssl x509 -in root.pem -outform DER -out root.cer
run 0 "DER .cer" "$C" store import root.cer --stores "$S"
has "$T/out" "added to root: $RT" "DER imported"
rm -rf "$S"
grep -v -- '-----' root.pem >root-noarmour.cer
run 0 "Base64 without armour" "$C" store import root-noarmour.cer --stores "$S"
has "$T/out" "added to root: $RT" "armourless Base64 imported"
rm -rf "$S"
openssl crl2pkcs7 -nocrl -certfile inter.pem -certfile root.pem -outform DER -out chain.p7b 2>/dev/null
run 0 "DER .p7b chain" "$C" store import chain.p7b --stores "$S"
has "$T/out" "added to intermediate: $IT" "p7b intermediate"
has "$T/out" "added to root: $RT" "p7b root"
rm -rf "$S"
openssl crl2pkcs7 -nocrl -certfile root.pem -out chain-pem.p7b 2>/dev/null
run 0 "PEM PKCS7" "$C" store import chain-pem.p7b --stores "$S"
printf 's3cret\n' >pw.txt
printf 'wrong\n' >bad-pw.txt
openssl pkcs12 -export -inkey inter.key -in inter.pem -certfile root.pem -passout pass:s3cret -out inter.p12 2>/dev/null
before=$(snap)
run 2 "p12 without password" "$C" store import inter.p12 --stores "$S"
has "$T/err" "inter.p12: PKCS#12 file is password-protected" "p12 needs a password"
run 2 "p12 wrong password" "$C" store import inter.p12 --password-file bad-pw.txt --stores "$S"
has "$T/err" "inter.p12: wrong password" "wrong password named"
[ "$before" = "$(snap)" ] && ok "failed p12 imports changed nothing" || fail "failed p12 import changed the stores"
run 0 "p12 with password" "$C" store import inter.p12 --password-file pw.txt --stores "$S"
has "$T/out" "added to intermediate: $IT" "p12 intermediate"
has "$T/out" "already in root: $RT" "p12 root already there"
has "$T/err" "private key in the file was not imported" "p12 key skipped"
run 2 "missing password file" "$C" store import inter.p12 --password-file nope.txt --stores "$S"
has "$T/err" "nope.txt" "missing password file named"

# ---- bad input ---------------------------------------------------------------------
before=$(snap)
: >empty.cer
run 2 "empty file" "$C" store import empty.cer --stores "$S"
has "$T/err" "empty.cer: empty file" "empty named"
head -c 300 root.pem >truncated.pem
run 2 "truncated PEM" "$C" store import truncated.pem --stores "$S"
has "$T/err" "truncated.pem: line 1: the CERTIFICATE block has no END line" "truncated PEM explained"
head -c 200 root.cer >truncated.cer
run 2 "truncated DER" "$C" store import truncated.cer --stores "$S"
has "$T/err" "truncated.cer: truncated" "truncated DER explained"
head -c 2000 /dev/urandom | tr '\060' '\061' >garbage.bin
printf '\001' | cat - garbage.bin >garbage.cer
run 2 "binary garbage" "$C" store import garbage.cer --stores "$S"
has "$T/err" "garbage.cer: not a certificate, CRL, key, PKCS#7 or PKCS#12" "garbage explained"
printf 'Hello, this is not a certificate.\n' >text.crt
run 2 "text garbage" "$C" store import text.crt --stores "$S"
run 2 "over --max-bytes" "$C" store import root.pem --max-bytes 100 --stores "$S"
has "$T/err" "root.pem: too large: [0-9]+ bytes, over the limit of 100 bytes" "size limit named"
run 2 "missing file" "$C" store import nope.cer --stores "$S"
has "$T/err" "nope.cer: cannot open" "missing file named"
{ cat root.pem; printf -- '-----BEGIN CERTIFICATE-----\nMIIB!!!!\n-----END CERTIFICATE-----\n'; } >mixed.pem
run 2 "bundle with one bad block" "$C" store import mixed.pem --stores "$S"
has "$T/err" "mixed.pem: line [0-9]+: bad base64" "bad block located"
[ "$before" = "$(snap)" ] && ok "bad input left the stores unchanged" || fail "bad input changed the stores"
[ -z "$(find "$S" -name '*.tmp.*')" ] && ok "no temp files left" || fail "temp files left"

# ---- odd subjects -------------------------------------------------------------------
P issue --profile root --cn 'Odd, "Quoted" Zürich ☃' --out odd.pem --key-out odd.key
run 0 "odd subject imports" "$C" store import odd.pem --stores "$S"
run 0 "odd subject lists" "$C" store list --stores "$S"
has "$T/out" 'Odd, "Quoted" Zürich ☃' "odd CN shown as is"

# ---- list, show, remove ---------------------------------------------------------------
run 0 "list" "$C" store list --stores "$S"
has "$T/out" "^Store +Issued To +Issued By +Expiration +Thumbprint" "list header"
has "$T/out" "^root +Store Root +Store Root +[0-9]{4}-[0-9]{2}-[0-9]{2}  $RT" "root row"
has "$T/out" "^intermediate +Store Intermediate +Store Root" "intermediate row"
run 0 "list --json" "$C" store list --json --stores "$S"
if jq -e --arg t "$RT" '.certificates[] | select(.thumbprint == $t and .store == "root" and .self_signed == true and .issued_to == "Store Root")' "$T/out" >/dev/null; then
    ok "json root entry"
else fail "json root entry: $(head -c 400 "$T/out")"; fi
[ "$(jq '.certificates | length' "$T/out")" = 3 ] && ok "json lists 3 certificates" || fail "json count"
run 0 "list --store root" "$C" store list --store root --stores "$S"
grep -q "^intermediate" "$T/out" && fail "--store root shows intermediates" || ok "--store filters"
run 0 "show prefix" "$C" store show "${RT:0:8}" --stores "$S"
has "$T/out" "Thumbprint SHA-256: $RT" "show details"
has "$T/out" "CA: +yes, self-signed" "show CA status"
run 0 "show --json" "$C" store show "$IT" --json --stores "$S"
[ "$(jq -r .store "$T/out")" = intermediate ] && ok "show json store" || fail "show json"
run 2 "show bad prefix" "$C" store show xyz --stores "$S"
run 1 "show unknown" "$C" store show 0000000000 --stores "$S"
has "$T/err" "no certificate or CRL" "unknown thumbprint explained"
run 0 "root also into disallowed" "$C" store import root.pem --to disallowed --stores "$S"
run 1 "ambiguous thumbprint" "$C" store remove "$RT" --stores "$S"
has "$T/err" "ambiguous" "ambiguity explained"
run 0 "remove with --store" "$C" store remove "$RT" --store disallowed --stores "$S"
[ ! -e "$S/disallowed/$RT.pem" ] && [ -e "$S/root/$RT.pem" ] && ok "removed only from disallowed" || fail "remove"
run 1 "remove again" "$C" store remove "$RT" --store disallowed --stores "$S"

# Default stores dir is ./stores.
mkdir -p cwd && (cd cwd && "$C" store import ../root.pem >/dev/null 2>&1)
[ -f "cwd/stores/root/$RT.pem" ] && ok "default stores dir ./stores" || fail "default stores dir"

if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed"
    exit 1
fi
echo "all checks passed"
