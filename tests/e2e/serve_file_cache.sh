# serve_file_cache.sh: the per-worker cache of small static files, through
# the real server and curl: a cached file is served while it is trusted, a
# changed file is seen and a deleted one answered 404 within
# file_cache_valid, a file over file_cache_max_file is served whole,
# `file_cache_entries: 0` serves every change at once, and a symlink
# leaving the root is never served, from the cache or into it.
source "$(dirname "$0")/lib.sh"

cg_pki "$T/pki" localhost
mkdir -p "$T/www"
printf 'secret outside the root\n' >"$T/outside.txt"
ln -s "$T/outside.txt" "$T/www/escape.txt"

# site_config NAME LIMITS WORKERS: one TLS site on $T/www
site_config() {
    cat >"$T/$1.yaml" <<EOF
workers: $3
error_log: { path: $T/$1.log, level: info }
limits: { $2 }
sites:
  - name: main
    root: $T/www
    bindings:
      - { listen: "127.0.0.1:0", tls: true, certificate: $T/pki/localhost.pem, key: $T/pki/localhost.key }
EOF
}

# put FILE CONTENT: replaces the file as editors and deploy tools do (a new
# inode under the same name), or writes it in place with IN_PLACE=1.
put() {
    if [ "${IN_PLACE:-0}" = 1 ]; then
        printf '%s' "$2" >"$T/www/$1"
    else
        printf '%s' "$2" >"$T/www/$1.new" && mv -f "$T/www/$1.new" "$T/www/$1"
    fi
}

get() { cg_curl_tls localhost "$PORT" "https://localhost:$PORT$1" 2>/dev/null || true; }
code() { cg_curl_tls localhost "$PORT" -o /dev/null -w '%{http_code}' "https://localhost:$PORT$1" 2>/dev/null || true; }

# until_eq NAME WANT CMD...: runs CMD until it prints WANT, at most 10 s.
until_eq() {
    local name=$1 want=$2 got="" deadline=$((SECONDS + 10)); shift 2
    while [ "$SECONDS" -lt "$deadline" ]; do
        got=$("$@")
        if [ "$got" = "$want" ]; then cg_ok "$name"; return 0; fi
        sleep 0.05   # poll interval; the deadline bounds the wait
    done
    cg_fail "$name: still '$got' after 10 s (want '$want')"
}

cg_log "cached for an hour (one worker): a change is not seen, proving the cache answers"
put a.txt "version one"
site_config long "file_cache_valid: 1h" 1
cg_start long "$T/long.yaml"
PORT=$(cg_port long 127.0.0.1:0)
cg_check "first answer" "version one" "$(get /a.txt)"
IN_PLACE=1 put a.txt "VERSION TWO"
cg_check "changed on disk, still the cached bytes" "version one" "$(get /a.txt)"
cg_check "escaping symlink: 404" "404" "$(code /escape.txt)"
cg_check "escaping symlink again: 404" "404" "$(code /escape.txt)"
cg_stop long

cg_log "file_cache_valid: 1s: changes and deletions seen within it"
put a.txt "version one"
head -c 100000 /dev/urandom >"$T/www/big.bin"
site_config short "file_cache_valid: 1s, file_cache_max_file: 4k" 2
cg_start short "$T/short.yaml"
PORT=$(cg_port short 127.0.0.1:0)
cg_check "served" "version one" "$(get /a.txt)"
etag=$(cg_curl_tls localhost "$PORT" -D - -o /dev/null "https://localhost:$PORT/a.txt" | tr -d '\r' |
    awk -F': ' 'tolower($1)=="etag"{print $2}')
cg_check "304 from the cache" "304" "$(cg_curl_tls localhost "$PORT" -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "https://localhost:$PORT/a.txt")"
cg_check "range from the cache" "rsion" "$(cg_curl_tls localhost "$PORT" -r 2-6 "https://localhost:$PORT/a.txt")"
cg_check "HEAD from the cache" "0 11" "$(cg_curl_tls localhost "$PORT" -I -o /dev/null -w '%{size_download} %header{content-length}' "https://localhost:$PORT/a.txt")"
put a.txt "version two, longer"
until_eq "replaced file: new content within valid" "version two, longer" get /a.txt
IN_PLACE=1 put a.txt "version 3, in place"
until_eq "file written in place: new content within valid" "version 3, in place" get /a.txt
rm -f "$T/www/a.txt"
until_eq "deleted: 404 within valid" "404" code /a.txt
want=$(sha256sum <"$T/www/big.bin")
cg_check "over file_cache_max_file: whole file" "$want" "$(get /big.bin | sha256sum)"
cg_check "over file_cache_max_file, again" "$want" "$(get /big.bin | sha256sum)"
cg_check "over file_cache_max_file, range" "$(tail -c +50001 "$T/www/big.bin" | head -c 10 | sha256sum)" \
    "$(cg_curl_tls localhost "$PORT" -r 50000-50009 "https://localhost:$PORT/big.bin" | sha256sum)"
# a cached file swapped for a symlink leaving the root: 404, never the outside bytes
put swap.txt "inside"
cg_check "swap: served" "inside" "$(get /swap.txt)"
ln -sf "$T/outside.txt" "$T/www/swap.txt"
until_eq "swapped for an escaping symlink: 404 within valid" "404" code /swap.txt
cg_check "escaping symlink: 404" "404" "$(code /escape.txt)"
cg_stop short
cg_check "short: clean exit" "0" "$CG_RC"

cg_log "file_cache_entries: 0"
put b.txt "b one"
site_config off "file_cache_entries: 0" 1
cg_start off "$T/off.yaml"
PORT=$(cg_port off 127.0.0.1:0)
cg_check "off: served" "b one" "$(get /b.txt)"
IN_PLACE=1 put b.txt "b two"
cg_check "off: a change is seen at once" "b two" "$(get /b.txt)"
rm -f "$T/www/b.txt"
cg_check "off: deleted is 404 at once" "404" "$(code /b.txt)"
cg_check "off: escaping symlink: 404" "404" "$(code /escape.txt)"
cg_stop off

cg_done
