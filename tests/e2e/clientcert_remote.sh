# clientcert_remote.sh: how much a refused client is told. With
# `errors: detailed-local` (the default) a loopback client gets the
# certification path and the fix, and a client from another address (here:
# a network namespace of this test, linked by a veth pair in 10.x, or else a
# global address of this host) gets the friendly page only; `errors:
# detailed` tells everyone; `errors: friendly` tells no one, loopback
# included. HTML and problem+json, TLS 1.2 and 1.3.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/clientcert_lib.sh"

NS="cgcc$$"
VH="cgh$$"
VN="cgn$$"
NET="10.213.$(( $$ % 250 ))"
HOST_IP="$NET.1"
PEER_IP="$NET.2"
netns_cleanup() {
    cg_cleanup
    ip netns del "$NS" 2>/dev/null || true
    ip link del "$VH" 2>/dev/null || true
}
trap netns_cleanup EXIT
# The remote client runs in the namespace; without one (no CAP_NET_ADMIN,
# or CG_REMOTE_VIA=host) it connects from a global address of this host,
# which the server sees as a non-loopback source all the same.
REMOTE=(ip netns exec "$NS")
if [ "${CG_REMOTE_VIA:-netns}" != host ] && ip netns add "$NS" 2>/dev/null; then
    ip link add "$VH" type veth peer name "$VN"
    ip link set "$VN" netns "$NS"
    ip addr add "$HOST_IP/30" dev "$VH"
    ip link set "$VH" up
    ip netns exec "$NS" ip addr add "$PEER_IP/30" dev "$VN"
    ip netns exec "$NS" ip link set "$VN" up
    ip netns exec "$NS" ip link set lo up
else
    HOST_IP=$(ip -4 -o addr show scope global 2>/dev/null | awk '{ sub(/\/.*/, "", $4); print $4; exit }')
    if [ -z "$HOST_IP" ]; then
        echo "SKIP: no network namespace and no non-loopback address to be a remote client from"; exit 0
    fi
    PEER_IP=$HOST_IP
    REMOTE=()
    cg_log "no network namespace: the remote client connects from this host's $HOST_IP"
fi

P="$T/pki"
S="$T/stores"
cc_pki "$P" "$S"
mkdir -p "$T/www"
printf 'members-only\n' >"$T/www/index.html"
conf() {  # conf FILE ERRORS
    cat >"$1" <<EOF
workers: 1
stores: $S
errors: $2
access_log: { path: $T/access-$2.log, format: w3c }
error_log: { path: $T/error-$2.log, level: info }
sites:
  - name: main
    root: $T/www
    client_certificates: require
    bindings:
      - { listen: "$HOST_IP:0", tls: true, certificate: $P/a.test.pem, key: $P/a.test.key }
      - { listen: "127.0.0.1:0", tls: true, certificate: $P/a.test.pem, key: $P/a.test.key }
EOF
}

# ask MODE WHERE VERSION FORMAT: GET / with the expired certificate, from the
# namespace (remote) or from here (local); the body goes to $T/body.
ask() {
    local mode=$1 where=$2 v=$3 fmt=$4 addr ns=() acc=()
    if [ "$where" = remote ]; then addr=$(cg_addr "${mode//-/_}" "$HOST_IP:0"); ns=("${REMOTE[@]}");
    else addr=$(cg_addr "${mode//-/_}" 127.0.0.1:0); fi
    [ "$fmt" = json ] && acc=(-H 'Accept: application/problem+json')
    "${ns[@]}" curl -sS --max-time 10 --tlsv"$v" --tls-max "$v" --cacert "$P/root.pem" \
        --resolve "a.test:${addr##*:}:${addr%:*}" --cert "$P/expired.pem" --key "$P/expired.key" \
        "${acc[@]}" -o "$T/body" -w '%{http_code}' "https://a.test:${addr##*:}/?c=$where-$v-$fmt" || true
}

# expect MODE WHERE detailed|friendly
expect() {
    local mode=$1 where=$2 want=$3 v fmt got
    for v in 1.2 1.3; do
        for fmt in html json; do
            cg_check "$mode $where TLS $v $fmt: 403" "403" "$(ask "$mode" "$where" "$v" "$fmt")"
            if [ "$fmt" = json ]; then
                cg_check "$mode $where TLS $v json: code and reason" "403.17 expired" \
                    "$(cc_json code <"$T/body") $(cc_json reason <"$T/body")"
                got=$(cc_json path <"$T/body")
                if [ "$want" = detailed ]; then
                    cg_check "$mode $where TLS $v json: the path (leaf, CA, root)" "3" "$got"
                    cg_match "$mode $where TLS $v json: the fix" '^[1-9]' "$(cc_json remedy <"$T/body")"
                else
                    cg_check "$mode $where TLS $v json: no path" "-" "$got"
                    cg_check "$mode $where TLS $v json: no fix" "-" "$(cc_json remedy <"$T/body")"
                    cg_check "$mode $where TLS $v json: the friendly detail" \
                        "Your certificate has expired. Ask your administrator to renew it." "$(cc_json detail <"$T/body")"
                fi
            else
                cg_match "$mode $where TLS $v html: code" '403.17 &middot; expired' "$(cat "$T/body")"
                cg_match "$mode $where TLS $v html: the dates" 'Your certificate is valid from' "$(cat "$T/body")"
                if [ "$want" = detailed ]; then
                    cg_match "$mode $where TLS $v html: the path" 'SHA-256: .*CG Test Issuing CA' "$(tr -d '\n' <"$T/body")"
                elif grep -qE 'SHA-256|CG Test|eve expired' "$T/body"; then
                    cg_fail "$mode $where TLS $v html: the friendly page names certificates"
                else
                    cg_ok "$mode $where TLS $v html: friendly, no path"
                fi
            fi
        done
    done
}

for mode in detailed-local detailed friendly; do
    conf "$T/$mode.yaml" "$mode"
    cg_start "${mode//-/_}" "$T/$mode.yaml"
done
cg_log "errors: detailed-local"
expect detailed-local local detailed
expect detailed-local remote friendly
cc_w3c "$T/access-detailed-local.log" "c=remote-1.3-json" c-ip sc-status sc-substatus x-reason >"$T/line"
cg_check "the remote request came from the non-loopback address" "$PEER_IP 403 17 expired" "$(cat "$T/line")"
cg_log "errors: detailed"
expect detailed local detailed
expect detailed remote detailed
cg_log "errors: friendly"
expect friendly local friendly
expect friendly remote friendly
for mode in detailed-local detailed friendly; do
    cg_stop "${mode//-/_}"
    cg_check "$mode: exit status" "0" "$CG_RC"
done
cg_done
