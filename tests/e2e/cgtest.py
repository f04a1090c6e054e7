#!/usr/bin/env python3
"""Raw-socket helpers for the serve_*.sh end-to-end tests (stdlib only).

  cgtest.py send HOST PORT [--tls] [--sni NAME] [--timeout S]
      Sends stdin's bytes (with \\r \\n \\xNN escapes decoded when --escaped),
      reads until the server closes or the timeout, and prints one line:
      the statuses seen in order, then "close" or "open", e.g. "200 200 open".
  cgtest.py table PLAIN_HOST PLAIN_PORT TLS_HOST TLS_PORT SNI
      Runs the hostile-input table read from stdin (see serve_hostile.sh);
      after every case checks that a normal request still gets a 200.
  cgtest.py slow HOST PORT INTERVAL
      Sends a request head one byte every INTERVAL seconds; prints the
      seconds until the server closed and what it answered.
  cgtest.py waitlog FILE REGEX TIMEOUT [COUNT]
      Waits until COUNT lines (default 1) of FILE match REGEX (exit 0, the
      last one printed) or TIMEOUT (exit 1).
  cgtest.py forgekey KEY_A KEY_B
      Prints (PEM) an EC private key that carries KEY_A's public key but
      KEY_B's private scalar (both PKCS#8 EC keys of one curve). OpenSSL
      takes the embedded public key as given and X509_check_private_key
      compares public keys only, so a client accepts it with A's certificate
      and then signs CertificateVerify with B: a failed proof of possession.
"""
import base64
import re
import select
import socket
import ssl
import sys
import time

STATUS_RE = re.compile(rb"HTTP/1\.[01] (\d{3}) ")


def unescape(text):
    return text.encode("latin-1").decode("unicode_escape").encode("latin-1")


def connect(host, port, tls=False, sni=None, timeout=5.0):
    s = socket.create_connection((host, port), timeout=timeout)
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s = ctx.wrap_socket(s, server_hostname=sni)
    return s


def exchange(host, port, data, tls=False, sni=None, timeout=5.0, idle=1.5):
    """Sends data, reads until close, `timeout` in all, or `idle` seconds of
    silence after at least one complete response. Returns (bytes, closed)."""
    try:
        s = connect(host, port, tls, sni, timeout)
    except (ssl.SSLError, ConnectionError, OSError):
        return b"", True
    out = b""
    closed = False
    deadline = time.monotonic() + timeout
    try:
        if data:
            s.sendall(data)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            wait = min(left, idle) if STATUS_RE.search(out) else left
            if isinstance(s, ssl.SSLSocket) and s.pending():
                r = [s]
            else:
                r, _, _ = select.select([s], [], [], wait)
            if not r:
                break
            try:
                chunk = s.recv(65536)
            except (ssl.SSLError, ConnectionError, OSError):
                closed = True
                break
            if not chunk:
                closed = True
                break
            out += chunk
    except (ssl.SSLError, ConnectionError, OSError):
        closed = True
    finally:
        try:
            s.close()
        except OSError:
            pass
    return out, closed


def summary(out, closed):
    statuses = [m.group(1).decode() for m in STATUS_RE.finditer(out)]
    return " ".join(statuses + ["close" if closed else "open"])


def cmd_send(args):
    host, port = args[0], int(args[1])
    tls = "--tls" in args
    sni = None
    timeout = 5.0
    if "--sni" in args:
        sni = args[args.index("--sni") + 1]
    if "--timeout" in args:
        timeout = float(args[args.index("--timeout") + 1])
    data = sys.stdin.buffer.read()
    if "--escaped" in args:
        data = unescape(data.decode("latin-1"))
    out, closed = exchange(host, port, data, tls, sni, timeout)
    if "--dump" in args:
        sys.stdout.buffer.write(out)
        sys.stdout.write("\n")
    print(summary(out, closed))
    return 0


def cmd_table(args):
    phost, plain, thost, tlsport, sni = args[0], int(args[1]), args[2], int(args[3]), args[4]
    normal = b"GET / HTTP/1.1\r\nHost: " + sni.encode() + b"\r\nConnection: close\r\n\r\n"
    failures = 0
    count = 0
    for raw in sys.stdin.read().splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        name, where, expect, payload = [f.strip() for f in raw.split("|", 3)]
        count += 1
        data = unescape(payload)
        if payload.startswith("REPEAT~"):
            # REPEAT~<n>~<text>~<rest> builds oversized inputs compactly.
            _, n, text, rest = payload.split("~", 3)
            data = unescape(rest.replace("@", unescape(text).decode("latin-1") * int(n)))
        tls = where == "tls"
        host, port = (thost, tlsport) if where.startswith("tls") else (phost, plain)
        out, closed = exchange(host, port, data, tls, sni if tls else None, 5.0)
        got = summary(out, closed)
        ok = re.fullmatch(expect, got) is not None
        # The server must still serve a normal client afterwards, on both ports.
        after_plain = summary(*exchange(phost, plain, normal, False, None, 5.0))
        after_tls = summary(*exchange(thost, tlsport, normal, True, sni, 5.0))
        alive = after_plain == "200 close" and after_tls == "200 close"
        mark = "ok  " if ok and alive else "FAIL"
        if not (ok and alive):
            failures += 1
        print(f"{mark} {name:<44} expected /{expect}/ got '{got}'"
              + ("" if alive else f" [after: plain '{after_plain}' tls '{after_tls}']"))
    print(f"{count} cases, {failures} failed")
    return 1 if failures or count < 40 else 0


def cmd_slow(args):
    host, port, interval = args[0], int(args[1]), float(args[2])
    head = b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"a" * 200 + b"\r\n\r\n"
    s = socket.create_connection((host, port), timeout=5)
    start = time.monotonic()
    out = b""
    for i in range(len(head)):
        try:
            s.send(head[i:i + 1])
        except (BrokenPipeError, ConnectionResetError):
            break
        r, _, _ = select.select([s], [], [], interval)
        if r:
            try:
                chunk = s.recv(4096)
            except ConnectionResetError:
                chunk = b""
            out += chunk
            if not chunk:
                break
    elapsed = time.monotonic() - start
    print(f"closed after {elapsed:.1f}s: {summary(out, True)}")
    return 0


def cmd_trickle(args):
    """trickle HOST PORT: sends two pipelined requests a byte at a time (the
    client's pace: 5 ms a byte), so the head end straddles reads."""
    host, port = args[0], int(args[1])
    data = (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
            b"GET /digits.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    s = socket.create_connection((host, port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for i in range(len(data)):
        s.send(data[i:i + 1])
        time.sleep(0.005)
    out = b""
    while True:
        c = s.recv(65536)
        if not c:
            break
        out += c
    print(summary(out, True))
    return 0


def cmd_waitlog(args):
    path, pattern, timeout = args[0], re.compile(args[1]), float(args[2])
    want = int(args[3]) if len(args) > 3 else 1
    deadline = time.monotonic() + timeout
    pos = 0
    buf = ""
    seen = 0
    while time.monotonic() < deadline:
        try:
            with open(path, "r", errors="replace") as f:
                f.seek(pos)
                data = f.read()
                pos = f.tell()
        except FileNotFoundError:
            data = ""
        buf += data
        lines = buf.split("\n")
        buf = lines.pop()
        for line in lines:
            if pattern.search(line):
                seen += 1
                if seen == want:
                    print(line)
                    return 0
        # Polling a file is the condition here; the interval only bounds CPU.
        time.sleep(0.05)
    return 1


def der_header(buf, off):
    """(tag, content offset, content length) of the DER element at off."""
    tag, length, off = buf[off], buf[off + 1], off + 2
    if length & 0x80:
        n = length & 0x7F
        length, off = int.from_bytes(buf[off:off + n], "big"), off + n
    return tag, off, length


def der_children(buf, off, length):
    out, end = [], off + length
    while off < end:
        tag, start, n = der_header(buf, off)
        out.append((tag, start, n))
        off = start + n
    return out


def ec_scalar_span(der):
    """Offset and length of the privateKey OCTET STRING's content inside a
    PKCS#8 PrivateKeyInfo holding an ECPrivateKey (RFC 5915)."""
    _, start, n = der_header(der, 0)
    fields = der_children(der, start, n)
    tag, start, n = fields[2]                    # privateKey OCTET STRING
    if tag != 0x04:
        raise ValueError("not a PKCS#8 private key")
    _, start, n = der_header(der, start)          # ECPrivateKey SEQUENCE
    fields = der_children(der, start, n)
    tag, start, n = fields[1]                    # its privateKey OCTET STRING
    if tag != 0x04 or fields[-1][0] != 0xA1:     # [1] publicKey must be there
        raise ValueError("not an EC private key with an embedded public key")
    return start, n


def pem_body(path, label):
    text = open(path).read()
    begin, end = "-----BEGIN %s-----" % label, "-----END %s-----" % label
    if begin not in text:
        raise ValueError("%s: no %s" % (path, label))
    return base64.b64decode(text.split(begin, 1)[1].split(end, 1)[0])


def cmd_forgekey(args):
    a = bytearray(pem_body(args[0], "PRIVATE KEY"))
    b = pem_body(args[1], "PRIVATE KEY")
    a_off, a_len = ec_scalar_span(a)
    b_off, b_len = ec_scalar_span(b)
    if a_len != b_len:
        raise ValueError("keys of different curves")
    a[a_off:a_off + a_len] = b[b_off:b_off + b_len]
    text = base64.b64encode(bytes(a)).decode()
    print("-----BEGIN PRIVATE KEY-----")
    for i in range(0, len(text), 64):
        print(text[i:i + 64])
    print("-----END PRIVATE KEY-----")
    return 0


def main():
    cmds = {"send": cmd_send, "table": cmd_table, "slow": cmd_slow, "waitlog": cmd_waitlog,
            "trickle": cmd_trickle, "forgekey": cmd_forgekey}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        print(__doc__)
        return 2
    return cmds[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
