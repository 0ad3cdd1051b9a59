#!/usr/bin/env bash
# Fetches Debian 12's redis-server 7.0 (the Redis that issue 2's reference figures were measured on) into
# bench/target/redis-7.0 without installing anything system-wide, and prints the path of a launcher for it.
# Used by `bench/run-benchmarks.sh --redis7`; any other Redis can be chosen with SPILLWAY_REDIS_SERVER=/path.
# Needs apt-get (Debian/Ubuntu); `apt-get update` is run once if the package lists are empty (needs root).
set -euo pipefail
cd "$(dirname "$0")/.."
DEST="$PWD/bench/target/redis-7.0"
if [ ! -x "$DEST/redis-server" ]; then
  command -v apt-get >/dev/null || { echo "apt-get not found: install Redis 7.0 and set SPILLWAY_REDIS_SERVER" >&2; exit 1; }
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  # Bounded: a machine that cannot reach its package mirror must not stall (CI skips the Redis 7 pass then).
  fetch() { (cd "$work" && timeout 120 apt-get download -q redis-tools liblzf1 libjemalloc2 >/dev/null 2>&1); }
  fetch || { timeout 300 apt-get update -qq >/dev/null 2>&1 && fetch; }
  mkdir -p "$DEST/root"
  for deb in "$work"/*.deb; do dpkg -x "$deb" "$DEST/root"; done
  # Debian ships the server as redis-check-rdb and links redis-server to it (the name selects the mode).
  ln -sf redis-check-rdb "$DEST/root/usr/bin/redis-server"
  # The launcher goes into place only once the server runs here: a half-done fetch must not look like a Redis.
  cat > "$DEST/redis-server.tmp" <<LAUNCHER
#!/usr/bin/env bash
export LD_LIBRARY_PATH="$DEST/root/usr/lib/x86_64-linux-gnu:$DEST/root/usr/lib/aarch64-linux-gnu\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
exec -a redis-server "$DEST/root/usr/bin/redis-server" "\$@"
LAUNCHER
  chmod +x "$DEST/redis-server.tmp"
  "$DEST/redis-server.tmp" --version >&2
  mv "$DEST/redis-server.tmp" "$DEST/redis-server"
fi
echo "$DEST/redis-server"
