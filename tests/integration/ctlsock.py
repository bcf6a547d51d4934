"""The control socket's framing, for the integration tests that speak to
ukeyd directly (docs/protocol.md): a frame is a 4-byte big-endian length,
then that many bytes of JSON. The tests' Python snippets import it, run
as `PYTHONPATH=$SRC/tests/integration python3 ...`."""
import json
import socket
import struct


def connect(path):
    """A connection to the daemon's socket at path."""
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    return s


def send(s, request):
    """Sends one request as one frame: a dict as JSON, bytes as they are."""
    body = request if isinstance(request, bytes) else json.dumps(request).encode()
    s.sendall(struct.pack(">I", len(body)) + body)


def exactly(s, n):
    """The next n bytes from s; fails if the daemon closes first."""
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        assert c, "closed"
        b += c
    return b


def length(s):
    """The length of the next frame."""
    return struct.unpack(">I", exactly(s, 4))[0]


def reply(s):
    """The next frame, parsed."""
    return json.loads(exactly(s, length(s)))
