#!/usr/bin/env python3
"""Redis-side capacity of enqueue.lua, with no client cost: how fast Redis itself runs the script.

Pre-encodes CALLS EVALSHA calls of JOBS jobs each (500 by default; 280-byte records, run-at 0, no TTL: the
producer's defaults), sends them DEPTH at a time on one raw socket, and reports jobs/s and the redis-server
process's CPU time per job (from /proc, so it holds up on a busy machine). 'XADD' instead of a script file sends
the same records as bare pipelined XADDs, the anchor. 'MULTI' does the same work as the script without one, in
two round trips per batch: WATCH + MGET of the status keys, then MULTI, an XADD per job, MSET of the status
records, EXEC (DEPTH does not apply: WATCH holds one batch per connection). Standard library only; Redis must
run on this machine.

    python3 bench/lua-capacity.py PORT core/src/main/resources/io/spillway/core/scripts/enqueue.lua [CALLS] [DEPTH] [JOBS]
    python3 bench/lua-capacity.py PORT XADD [CALLS] [DEPTH] [JOBS]
    python3 bench/lua-capacity.py PORT MULTI [CALLS] [DEPTH] [JOBS]
"""
import os
import sys
import time

from resp import Connection, enc, script

N = 500  # jobs per call; the fifth argument overrides it


def main():
    port = int(sys.argv[1])
    what = sys.argv[2]
    calls = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    depth = int(sys.argv[4]) if len(sys.argv) > 4 else 4
    global N
    N = int(sys.argv[5]) if len(sys.argv) > 5 else N
    conn = Connection(port)
    read, cmd = conn.read, conn.cmd
    cmd('FLUSHALL')
    sha = None if what in ('XADD', 'MULTI') else cmd('SCRIPT', 'LOAD', script(what))
    payload = os.urandom(140).hex().encode()[:280]
    now = str(int(time.time() * 1000)).encode()
    seq = 0
    batches = []
    for _ in range(calls):
        if what == 'MULTI':
            keys = []
            for _ in range(N):
                seq += 1
                keys.append(b'spillway:{q}:job:01JDXABCDEFGH%013d' % seq)
            check = enc('WATCH', *keys) + enc('MGET', *keys)
            body = enc('MULTI') + b''.join(enc('XADD', 'spillway:{q}:stream', '*', 'j', payload) for _ in range(N))
            records = []
            for k in keys:
                records += [k, b'Q|0|' + now + b'|']
            body += enc('MSET', *records) + enc('EXEC')
            batches.append(((check, 2), (body, N + 3)))
            continue
        if sha is None:
            batches.append((b''.join(enc('XADD', 'spillway:{q}:stream', '*', 'j', payload) for _ in range(N)), N))
            continue
        keys = [b'spillway:{q}:stream', b'spillway:{q}:delayed']
        args = [now, b'0']
        for _ in range(N):
            seq += 1
            keys.append(b'spillway:{q}:job:01JDXABCDEFGH%013d' % seq)
            args += [b'0', payload]
        batches.append((enc('EVALSHA', sha, len(keys), *keys, *args), 1))
    cpu = conn.cpu_clock()

    def replies(n):
        for _ in range(n):
            r = read()
            if isinstance(r, bytes) and r.startswith(b'-'):
                sys.exit('error: %r' % r)

    c0, t0 = cpu(), time.time()
    if what == 'MULTI':
        # Each batch's two steps in turn: the EXEC must follow its own WATCH's answers.
        for batch in batches:
            for step, n in batch:
                conn.send(step)
                replies(n)
    else:
        for i in range(0, calls, depth):
            chunk = batches[i:i + depth]
            conn.send(b''.join(c for c, _ in chunk))
            for _, n in chunk:
                replies(n)
    elapsed, c1 = time.time() - t0, cpu()
    jobs = calls * N
    label = 'MULTI' if what == 'MULTI' else '%s depth %d' % (what, depth)
    print('%s: %.0f jobs/s, redis-server CPU %.2f us/job' % (label, jobs / elapsed, (c1 - c0) * 1e6 / jobs))

if __name__ == '__main__':
    main()
