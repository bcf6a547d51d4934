# The control socket's request path (src/common/request.c, the framer in
# control.c): requests sent back to back, an oversize frame after a served
# one, and malformed requests are each answered, and the daemon lives on.
. "$(dirname "$0")/lib.sh"

start_station
python3 - "$STATE/ukeyd.sock" <<'PY' || fail "raw socket checks"
import json, socket, struct, sys

def frame(obj):
    b = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return struct.pack(">I", len(b)) + b

def replies(s, n):
    out, buf = [], b""
    while len(out) < n:
        while len(buf) >= 4 and len(buf) >= 4 + struct.unpack(">I", buf[:4])[0]:
            k = struct.unpack(">I", buf[:4])[0]
            out.append(json.loads(buf[4:4 + k]))
            buf = buf[4 + k:]
        if len(out) >= n:
            break
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    return out

def connect():
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    s.connect(sys.argv[1])
    return s

# three requests in one write: three replies, in order
s = connect()
s.sendall(frame({"v": 1, "cmd": "ping"}) + frame({"v": 1, "cmd": "nope"}) +
          frame({"v": 1, "cmd": "ping", "args": None}))
r = replies(s, 3)
assert len(r) == 3, r
assert r[0]["ok"] and r[0]["result"]["user"] == "root", r[0]
assert r[1]["error"]["code"] == "protocol" and "unknown command" in r[1]["error"]["message"], r[1]
assert r[2]["error"]["code"] == "protocol" and "args: must be an object" in r[2]["error"]["message"], r[2]
s.close()

# a served request, then a frame over 4 MiB in the same write: the request is
# answered, the oversize frame is told so, and the connection is closed
s = connect()
s.sendall(frame({"v": 1, "cmd": "ping"}) + struct.pack(">I", 4 * 1024 * 1024 + 1) + b"{}")
r = replies(s, 2)
assert len(r) == 2, r
assert r[0]["ok"], r[0]
assert r[1]["error"]["code"] == "protocol" and "larger" in r[1]["error"]["message"], r[1]
assert s.recv(1) == b"", "connection left open after an oversize frame"
s.close()

# malformed requests, one connection each
for raw, want in [(b"\xff\xfe", "not a JSON object"), (b'{"v":"1","cmd":"ping"}', "field v"),
                  (b'{"v":1,"cmd":"a b"}', "field cmd"), (b'{"v":1,"cmd":"ping"} x', "not a JSON object"),
                  # strict JSON only: each of these once answered as a ping
                  (b'{"v":1,"cmd":"ping",}', "not a JSON object"),
                  (b"{\"v\":1,\"cmd\":'ping'}", "not a JSON object"),
                  (b"{'v':1,\"cmd\":\"ping\"}", "not strict JSON (RFC 8259): single quote"),
                  (b'{"v":1,/* c */"cmd":"ping"}', "not a JSON object"),
                  (b'{"v":1,"cmd":"ping"}// c', "not a JSON object"),
                  (b'{"v":1,"cmd":"ping","args":{"x":NaN}}', "not strict JSON"),
                  (b'{"v":1,"cmd":"ping","args":{"n":"\\ud800"}}', "args.n: \\uD800")]:
    s = connect()
    s.sendall(frame(raw))
    r = replies(s, 1)
    assert r and r[0]["error"]["code"] == "protocol" and want in r[0]["error"]["message"], (raw, r)
    s.close()
PY
ctl status >/dev/null || fail "daemon not answering after the raw requests"
stop_station
echo "request path: 3 pipelined, 1 oversize after a served request, 11 malformed: all answered"
