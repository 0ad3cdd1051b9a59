#!/usr/bin/env python3
"""Redis-side cost of settling jobs: ack.lua (with the lease.lua and room.lua it includes) run by Redis alone.

Fills a stream with JOBS entries whose 'j' field is a JobCodec-shaped record (version 1, the id, a 280-byte body),
delivers every one to consumer 'c' of group 'spillway' (XREADGROUP) with an active status record each, then settles
them all with ack.lua calls of BATCH jobs, DEPTH calls in flight on one raw socket, and reports jobs/s and the
redis-server process's CPU time per settled job (from /proc) for the settle phase only. SCRIPT_DIR holds ack.lua,
lease.lua and room.lua, so that two versions of lease.lua can be compared side by side. Standard library only; Redis
must run on this machine.

    python3 bench/settle-capacity.py PORT worker-adapter/src/main/resources/io/spillway/worker/scripts [JOBS] [BATCH] [DEPTH]
"""
import os
import sys
import time

from resp import Connection, enc, script


def main():
    port = int(sys.argv[1])
    folder = sys.argv[2]
    jobs = int(sys.argv[3]) if len(sys.argv) > 3 else 200_000
    batch = int(sys.argv[4]) if len(sys.argv) > 4 else 100
    depth = int(sys.argv[5]) if len(sys.argv) > 5 else 4
    conn = Connection(port)

    def read():
        r = conn.read()
        if isinstance(r, bytes) and r.startswith(b'-'):
            sys.exit('error: %r' % r)
        return r

    def cmd(*parts):
        conn.send(enc(*parts))
        return read()

    def pipelined(commands):
        for i in range(0, len(commands), 1000):
            chunk = commands[i:i + 1000]
            conn.send(b''.join(chunk))
            for _ in chunk:
                read()

    stream = b'spillway:{q}:stream'
    cmd('FLUSHALL')
    cmd('XGROUP', 'CREATE', stream, 'spillway', '0', 'MKSTREAM')
    now = str(int(time.time() * 1000)).encode()
    body = os.urandom(140).hex().encode()[:280]
    ids = [b'01JDXABCDEFGH%013d' % i for i in range(jobs)]
    pipelined([enc('XADD', stream, '*', 'j', b'\x01' + len(i).to_bytes(2, 'big') + i + body) for i in ids])
    pipelined([enc('SET', b'spillway:{q}:job:' + i, b'A|0|' + now + b'|') for i in ids])
    entries = []
    while len(entries) < jobs:
        r = cmd('XREADGROUP', 'GROUP', 'spillway', 'c', 'COUNT', '10000', 'STREAMS', stream, '>')
        entries += [e[0] for e in r[0][1]]
    sha = cmd('SCRIPT', 'LOAD', script(os.path.join(folder, 'ack.lua')))
    calls = []
    for k in range(0, jobs, batch):
        keys = [stream] + [b'spillway:{q}:job:' + i for i in ids[k:k + batch]]
        args = [b'spillway', now, b'86400', b'c']
        for e in entries[k:k + batch]:
            args += [e, b'1']
        calls.append(enc('EVALSHA', sha, len(keys), *keys, *args))
    cpu = conn.cpu_clock()

    c0, t0 = cpu(), time.time()
    settled = 0
    for i in range(0, len(calls), depth):
        chunk = calls[i:i + depth]
        conn.send(b''.join(chunk))
        for _ in chunk:
            settled += int(read()[1:])
    elapsed, c1 = time.time() - t0, cpu()
    if settled != jobs:
        sys.exit('settled %d of %d jobs' % (settled, jobs))
    print('ack.lua, %d jobs per call, depth %d: %.0f jobs/s, redis-server CPU %.2f us/job'
          % (batch, depth, jobs / elapsed, (c1 - c0) * 1e6 / jobs))


if __name__ == '__main__':
    main()
