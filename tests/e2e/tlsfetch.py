#!/usr/bin/env python3
"""A TLS client with its sends under control, for serve_tls_sends.sh (stdlib only).

  tlsfetch.py fetch --port P --sni NAME --ca CA [--cert C --key K] [--tls 1.2|1.3]
                    [--http10] [--rcvbuf N --pace S] --out DIR PATH...
      One connection, the requests one after the other (each sent once the
      previous answer is in; the last says Connection: close). The first
      request leaves in the same send as the client's last handshake flight,
      as a browser's does. Writes DIR/<i>.head and DIR/<i>.body and prints
      "<i> <status> <content-length> <body bytes>" per response, then how the
      connection ended: "end close_notify", "end eof" or "end alert <reason>".
      --rcvbuf/--pace: a small receive buffer read one recv every S seconds
      (a slow reader: the server's sends meet a full socket).
      --answer-close S --pid PID: then answers with a close_notify, keeps its
      side of TCP open, and prints "server closed" once the server has
      closed its socket, "server held the connection" if not within S s.
  tlsfetch.py sends TRACE [--closed N --timeout S]
      Reads `strace -f -e trace=accept4,write,writev,sendmsg,sendto,close`
      of the server, connections one after the other, and prints per
      accepted connection: "<sends> <sends that met EAGAIN>"; with --closed,
      once N of them were closed (exit 1 if not within S seconds).
  tlsfetch.py nodelay --pid PID --port P
      Opens a TCP connection to the server, takes the server's own socket of
      it (pidfd_getfd, once the server has accepted it) and prints its
      TCP_NODELAY option: 1 or 0.
"""
import argparse
import ctypes
import os
import re
import socket
import ssl
import sys
import time


class Conn:
    def __init__(self, a):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(a.ca)
        if a.cert:
            ctx.load_cert_chain(a.cert, a.key)
        if a.tls:
            v = ssl.TLSVersion.TLSv1_2 if a.tls == "1.2" else ssl.TLSVersion.TLSv1_3
            ctx.minimum_version = ctx.maximum_version = v
        self.inc, self.outb = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inc, self.outb, server_side=False, server_hostname=a.sni)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if a.rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, a.rcvbuf)
        self.sock.settimeout(a.timeout)
        self.sock.connect(("127.0.0.1", a.port))
        self.pace = a.pace
        self.chunk = a.rcvbuf or 65536

    def send_out(self):
        data = self.outb.read()
        if data:
            self.sock.sendall(data)

    def recv_in(self):
        if self.pace:
            time.sleep(self.pace)
        data = self.sock.recv(self.chunk)
        if data:
            self.inc.write(data)
        else:
            self.inc.write_eof()

    def handshake(self):
        while True:
            try:
                self.obj.do_handshake()
                return
            except ssl.SSLWantReadError:
                self.send_out()
                self.recv_in()

    def read(self):
        """Application bytes; b"" after close_notify. Raises on alerts."""
        while True:
            try:
                return self.obj.read(65536)
            except ssl.SSLWantReadError:
                self.send_out()
                self.recv_in()
            except ssl.SSLZeroReturnError:
                return b""


def request(path, last, http10, sni):
    if http10:
        return ("GET %s HTTP/1.0\r\nHost: %s\r\n\r\n" % (path, sni)).encode()
    conn = "Connection: close\r\n" if last else ""
    return ("GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (path, sni, conn)).encode()


def server_fds(pid, inode):
    fds = []
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == "socket:[%s]" % inode:
                fds.append(int(fd))
        except OSError:
            pass
    return fds


def answer_close(c, a):
    """Sends our close_notify, keeps our side of TCP open, and says whether
    the server let go of its socket within --answer-close seconds."""
    inode = socket_inode(a.pid, a.port, c.sock.getsockname()[1])
    try:
        c.obj.unwrap()
    except ssl.SSLError:
        pass
    c.send_out()
    deadline = time.monotonic() + a.answer_close
    while inode is not None and server_fds(a.pid, inode) and time.monotonic() < deadline:
        time.sleep(0.01)   # polls the server's descriptors
    held = inode is not None and server_fds(a.pid, inode)
    print("server held the connection" if held else "server closed")


def cmd_fetch(a):
    c = Conn(a)
    buf = b""
    try:
        c.handshake()
        for i, path in enumerate(a.paths):
            # Finished (TLS 1.3) and the request: one send.
            c.obj.write(request(path, i == len(a.paths) - 1, a.http10, a.sni))
            c.send_out()
            while b"\r\n\r\n" not in buf:
                d = c.read()
                if not d:
                    raise EOFError("closed before the response head")
                buf += d
            head, buf = buf.split(b"\r\n\r\n", 1)
            m = re.search(rb"\r\ncontent-length: *(\d+)", head, re.I)
            length = int(m.group(1)) if m else -1
            while length >= 0 and len(buf) < length:
                d = c.read()
                if not d:
                    break
                buf += d
            body, buf = (buf[:length], buf[length:]) if length >= 0 else (buf, b"")
            with open(os.path.join(a.out, "%d.head" % i), "wb") as f:
                f.write(head + b"\r\n\r\n")
            with open(os.path.join(a.out, "%d.body" % i), "wb") as f:
                f.write(body)
            print(i, head.split(b" ")[1].decode(), length, len(body))
        while True:
            d = c.read()
            if not d:
                break
            buf += d
        if buf:
            print("extra", len(buf))
        print("end close_notify")
        if a.answer_close:
            answer_close(c, a)
    except ssl.SSLError as e:
        print("end alert", e.reason if e.reason else e)
    except (EOFError, ConnectionError) as e:
        print("end eof", e)
    finally:
        c.sock.close()


START = re.compile(r"^(?:\d+ +)?(accept4|write|writev|sendmsg|sendto|close)\((\d+)")
ACCEPTED = re.compile(r"^(?:\d+ +)?accept4\(.*\) = (\d+)$")


def cmd_sends(a):
    deadline = time.monotonic() + a.timeout
    while True:
        conns = parse_sends(a.trace)
        closed = sum(1 for c in conns if c["closed"])
        if closed >= a.closed or time.monotonic() > deadline:
            break
        time.sleep(0.05)   # polls the trace file, as cgtest.py waitlog does
    for c in conns:
        print(c["sends"], c["eagain"])
    return 0 if closed >= a.closed else 1


def parse_sends(trace):
    conns, cur = [], None
    with open(trace, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            m = ACCEPTED.match(line)
            if m:
                cur = {"fd": m.group(1), "sends": 0, "eagain": 0, "closed": False}
                conns.append(cur)
                continue
            m = START.match(line)
            if cur is None:
                continue
            if m and m.group(2) == cur["fd"]:
                if m.group(1) == "close":
                    cur["closed"] = True
                    cur = None
                    continue
                if m.group(1) != "accept4":
                    cur["sends"] += 1
                    if "EAGAIN" in line:
                        cur["eagain"] += 1
            elif "resumed>" in line and re.search(r"<\.\.\. (write|writev|sendmsg|sendto) resumed>", line):
                if "EAGAIN" in line:
                    cur["eagain"] += 1
    return conns


def socket_inode(pid, local_port, remote_port):
    """The inode of the IPv4 socket of `pid` with those ports, or None."""
    want = ":%04X" % local_port, ":%04X" % remote_port
    with open("/proc/%d/net/tcp" % pid) as f:
        for line in f.readlines()[1:]:
            field = line.split()
            if field[1].endswith(want[0]) and field[2].endswith(want[1]):
                return field[9]
    return None


def cmd_nodelay(a):
    libc = ctypes.CDLL(None, use_errno=True)
    sys_pidfd_getfd = 438
    with socket.create_connection(("127.0.0.1", a.port)) as client:
        mine = client.getsockname()[1]
        deadline = time.monotonic() + a.timeout
        server_fd = None
        while server_fd is None and time.monotonic() < deadline:
            # A connection still in the listen queue has inode 0: it gets
            # one when the server accepts it.
            inode = socket_inode(a.pid, a.port, mine)
            fds = server_fds(a.pid, inode) if inode not in (None, "0") else []
            if fds:
                server_fd = fds[0]
            else:
                time.sleep(0.01)   # polls until the server has accepted
        if server_fd is None:
            print("the server did not accept the connection", file=sys.stderr)
            return 1
        pidfd = os.pidfd_open(a.pid)
        fd = libc.syscall(sys_pidfd_getfd, pidfd, server_fd, 0)
        os.close(pidfd)
        if fd < 0:
            print("pidfd_getfd: %s" % os.strerror(ctypes.get_errno()), file=sys.stderr)
            return 1
        with socket.socket(fileno=fd) as theirs:
            print(theirs.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fetch")
    f.add_argument("--port", type=int, required=True)
    f.add_argument("--sni", required=True)
    f.add_argument("--ca", required=True)
    f.add_argument("--cert")
    f.add_argument("--key")
    f.add_argument("--tls", choices=["1.2", "1.3"])
    f.add_argument("--http10", action="store_true")
    f.add_argument("--rcvbuf", type=int, default=0)
    f.add_argument("--pace", type=float, default=0.0)
    f.add_argument("--timeout", type=float, default=20.0)
    f.add_argument("--out", required=True)
    f.add_argument("--answer-close", type=float, default=0.0,
                   help="answer the server's close_notify, then wait this long for it to close")
    f.add_argument("--pid", type=int, help="the server's pid, for --answer-close")
    f.add_argument("paths", nargs="+")
    s = sub.add_parser("sends")
    s.add_argument("trace")
    s.add_argument("--closed", type=int, default=0, help="wait until this many were closed")
    s.add_argument("--timeout", type=float, default=10.0)
    n = sub.add_parser("nodelay")
    n.add_argument("--pid", type=int, required=True)
    n.add_argument("--port", type=int, required=True)
    n.add_argument("--timeout", type=float, default=10.0)
    a = p.parse_args()
    if a.cmd == "fetch":
        return cmd_fetch(a)
    if a.cmd == "nodelay":
        return cmd_nodelay(a)
    return cmd_sends(a)


if __name__ == "__main__":
    sys.exit(main())
