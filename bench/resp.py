"""A raw RESP connection to a Redis on this machine, for the Redis-side measuring tools (bench/lua-capacity.py,
bench/settle-capacity.py). Standard library only."""
import os
import re
import socket


def enc(*parts):
    """One command, RESP-encoded; str and int parts are sent as their text."""
    out = [b'*%d\r\n' % len(parts)]
    for x in parts:
        x = x if isinstance(x, bytes) else str(x).encode()
        out.append(b'$%d\r\n%s\r\n' % (len(x), x))
    return b''.join(out)


def script(path):
    """A script's text with each '--#include <file>.lua' line replaced by that file of the same folder, and each
    '--#include /<resource path>.lua' by that resource of any module of this repository, as the Java side (LuaScript)
    does."""
    folder = os.path.dirname(path)
    text = open(path).read()
    return re.sub(r'^--#include (\S+)$', lambda m: script(_include(folder, m.group(1))), text, flags=re.M)


def _include(folder, name):
    if not name.startswith('/'):
        return os.path.join(folder, name)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for module in sorted(os.listdir(root)):
        candidate = os.path.join(root, module, 'src', 'main', 'resources', name[1:])
        if os.path.isfile(candidate):
            return candidate
    raise FileNotFoundError('no module of %s has the resource %s' % (root, name))


class Connection:
    def __init__(self, port):
        self.sock = socket.create_connection(('127.0.0.1', port))
        self.f = self.sock.makefile('rb')

    def send(self, data):
        self.sock.sendall(data)

    def read(self):
        """One reply: bytes, a list, None, or for a status, integer or error reply its whole line ('-' first)."""
        line = self.f.readline()
        kind = line[:1]
        if kind in b'+-:':
            return line
        if kind == b'$':
            n = int(line[1:])
            return None if n < 0 else self.f.read(n + 2)[:-2]
        if kind == b'*':
            n = int(line[1:])
            return None if n < 0 else [self.read() for _ in range(n)]
        raise RuntimeError('unexpected reply %r' % line)

    def cmd(self, *parts):
        self.send(enc(*parts))
        return self.read()

    def cpu_clock(self):
        """A function that returns the redis-server process's CPU time so far, in seconds (from /proc)."""
        info = self.cmd('INFO', 'server').decode()
        pid = int([l for l in info.splitlines() if l.startswith('process_id:')][0].split(':')[1])

        def cpu():
            fields = open('/proc/%d/stat' % pid).read().split(')')[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')
        return cpu
