# Sourced by scripts/bench: the page benchmarks, against a release build serving the demo data
# on the throwaway mongod ($PORT, $WORK). Both use wrk (Debian's) on loopback.

ensure_wrk() {
  command -v wrk >/dev/null || { say "installing Debian's wrk"; apt_install wrk; }
}

# The release server on database `load`, seeded once with 200,000 demo orders; sets BASE, SESSION, ORDER.
start_orderdesk() {
  ensure_wrk
  say "release build of the server"
  cargo build --release --no-default-features --features ssr --bin orderdesk
  export ORDERDESK_DATABASE=load
  target/release/orderdesk seed-demo --if-empty --orders "${BENCH_ORDERS:-200000}" --seed 11
  serve_orderdesk
}

# serve_orderdesk [ARGS...]: the release server (ARGS before `serve`: a `--config`), started,
# through its start-up work and signed in; sets BASE, SESSION, ORDER (a bot order's ORD ID).
serve_orderdesk() {
  local port; port="$(free_port)"
  LEPTOS_SITE_ADDR="127.0.0.1:$port" ORDERDESK_LOG_FORMAT=json RUST_LOG="warn,orderdesk::startup=info" \
    target/release/orderdesk "$@" serve >"$WORK/orderdesk.log" 2>&1 &
  SERVER_PID=$!
  BASE="http://127.0.0.1:$port"
  # Measured once start-up's own work (the failure figures over every order) is done.
  for _ in $(seq 1 600); do grep -q "start-up work done" "$WORK/orderdesk.log" && break; sleep 0.1; done
  # Signed in as the demo support agent, through the form like a browser.
  local jar="$WORK/cookies" token
  rm -f "$jar"
  token="$(curl -s -c "$jar" "$BASE/login" | grep -o 'name="_csrf" value="[^"]*"' | awk -F'"' 'NR == 1 { print $4 }')"
  curl -s -b "$jar" -c "$jar" -o /dev/null --data-urlencode "_csrf=$token" --data-urlencode "next=/" \
    --data-urlencode "email=support@orderdesk.demo" --data-urlencode "password=demo-support-password" "$BASE/auth/login"
  SESSION="$(awk '$6 == "od_session" { print $7 }' "$jar")"
  [ -n "$SESSION" ] || die "could not sign in to the benchmark server"
  ORDER="$(curl -s -H "Cookie: od_session=$SESSION" "$BASE/orders?source=shipping-bot&scheme=ord" | grep -o '/orders/ORD-[0-9]*-[0-9a-f]*' | awk -F/ 'NR == 1 { print $3 }' || true)"
  [ -n "$ORDER" ] || die "no shipping-bot order in the list to benchmark"
}

# The order page and search with the two systems in their own databases (two sources) against
# the single-database deployment, on the same demo data (seed 11) and the same mongod.
sources_bench() {
  ensure_wrk
  say "release build of the server"
  cargo build --release --no-default-features --features ssr --bin orderdesk
  local n="${BENCH_ORDERS:-200000}" seconds="${BENCH_SECONDS:-10}"
  # The settings file names the two-source deployment's databases; the one-database run names its own.
  unset ORDERDESK_DATABASE
  cat >"$WORK/sources.toml" <<TOML
[orderdesk]
database = "bench_desk"
[orderdesk.sources.bot]
kind = "shipping-bot"
database = "bench_bot"
[orderdesk.sources.marketplace]
kind = "marketplace"
database = "bench_bitesbay"
TOML
  ORDERDESK_DATABASE=load target/release/orderdesk seed-demo --if-empty --orders "$n" --seed 11
  target/release/orderdesk --config "$WORK/sources.toml" seed-demo --if-empty --orders "$n" --seed 11
  echo "| deployment, page | req/s | p50 | p99 | errors |"
  echo "|---|---|---|---|---|"
  local one_order one_bb one_search
  for deployment in one two; do
    if [ "$deployment" = one ]; then
      ORDERDESK_DATABASE=load serve_orderdesk
    else
      serve_orderdesk --config "$WORK/sources.toml"
    fi
    local number display
    # In one database a marketplace order's page is named by its UUID: the number is in the row.
    number="$(curl -s -H "Cookie: od_session=$SESSION" "$BASE/orders?source=marketplace&scheme=bb" | grep -o 'BB-[0-9]\{13\}-[0-9A-Z]\{4\}-[0-9]\{5\}' | awk 'NR == 1' || true)"
    [ -n "$number" ] || die "no BB number in the $deployment-database list"
    display="ORD-$(echo "${ORDER:19:6}" | tr a-f A-F)"
    local label="one database"; [ "$deployment" = two ] && label="two sources"
    wrk_run "$label: /orders/{order_id}" -t2 -c64 -d"${seconds}s" -H "Cookie: od_session=$SESSION" "$BASE/orders/$ORDER"; local order_rps="$RPS"
    wrk_run "$label: /orders/{BB number}" -t2 -c64 -d"${seconds}s" -H "Cookie: od_session=$SESSION" "$BASE/orders/$number"; local bb_rps="$RPS"
    wrk_run "$label: /search?q=%23$display" -t2 -c64 -d"${seconds}s" -H "Cookie: od_session=$SESSION" "$BASE/search?q=%23$display"; local search_rps="$RPS"
    stop_orderdesk
    if [ "$deployment" = one ]; then one_order="$order_rps"; one_bb="$bb_rps"; one_search="$search_rps"; fi
  done
  python3 -c "import sys; a = list(map(float, sys.argv[1:])); print('two sources / one database: order page %.2fx, BB-number page %.2fx, display-ID search %.2fx' % (a[3]/a[0], a[4]/a[1], a[5]/a[2]))" \
    "$one_order" "$one_bb" "$one_search" "$order_rps" "$bb_rps" "$search_rps"
}

stop_orderdesk() {
  if [ -n "${SERVER_PID:-}" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
}

# wrk_run NAME ARGS...: one wrk run after a 3 s warm-up (connections, caches) on the same
# URL; prints "| NAME | req/s | p50 | p99 | errors |" and sets RPS and P99 (wrk's text, "68.12ms").
wrk_run() {
  local name="$1"; shift
  wrk -t2 -c16 -d3s "${@: -3}" >/dev/null
  local out; out="$(wrk --latency "$@")"
  echo "$out" >"$WORK/wrk-$(echo "$name" | tr -c 'a-z0-9' '-').txt"
  RPS="$(echo "$out" | awk '/Requests\/sec/ { print $2 }')"
  local p50 p99 errors non2xx
  p50="$(echo "$out" | awk '$1 == "50%" { print $2 }')"
  p99="$(echo "$out" | awk '$1 == "99%" { print $2 }')"
  P99="$p99"
  errors="$(echo "$out" | sed -n 's/.*Socket errors: \(.*\)/\1/p')"
  non2xx="$(echo "$out" | awk '/Non-2xx/ { print $NF }')"
  printf '| %s | %s | %s | %s | %s |\n' "$name" "$RPS" "$p50" "$p99" "non-2xx ${non2xx:-0}; ${errors:-no socket errors}"
}

pages_bench() {
  start_orderdesk
  local me="$ROOT/benches/mongo-express"
  if [ ! -d "$me/node_modules/mongo-express" ] || [ "$me/package-lock.json" -nt "$me/node_modules/.package-lock.json" ]; then
    say "installing mongo-express 1.0.0 (the peer) into benches/mongo-express/"
    (cd "$me" && npm ci --no-audit --no-fund --loglevel=error)
  fi
  local me_port mongo_url; me_port="$(free_port)"
  mongo_url="mongodb://127.0.0.1:$PORT/load?directConnection=true"
  (cd "$me/node_modules/mongo-express" && NODE_ENV=production PORT="$me_port" VCAP_APP_HOST=127.0.0.1 \
    ME_CONFIG_MONGODB_URL="$mongo_url" ME_CONFIG_MONGODB_ENABLE_ADMIN=false \
    ME_CONFIG_BASICAUTH_USERNAME=bench ME_CONFIG_BASICAUTH_PASSWORD=bench node app.js >"$WORK/mongo-express.log" 2>&1) &
  local me_pid=$!
  local me_base="http://127.0.0.1:$me_port" auth="Authorization: Basic $(printf bench:bench | base64)"
  for _ in $(seq 1 100); do curl -fs -H "$auth" "$me_base/" >/dev/null && break; sleep 0.2; done
  local find="$me_base/db/load/orders?key=order_id&value=$ORDER&type=S"
  local doc_path; doc_path="$(curl -s -H "$auth" "$find" | grep -o '/db/load/orders/%22[0-9a-f]*%22' | awk 'NR == 1' || true)"
  [ -n "$doc_path" ] || { tail -20 "$WORK/mongo-express.log" >&2; die "mongo-express's find page did not list order $ORDER"; }
  local seconds="${BENCH_SECONDS:-10}"
  say "order $ORDER; wrk -t2 -c64 -d${seconds}s each, one after the other, the same mongod"
  echo "| page | req/s | p50 | p99 | errors |"
  echo "|---|---|---|---|---|"
  wrk_run "mongo-express 1.0.0, find by order_id" -t2 -c64 -d"${seconds}s" -H "$auth" "$find"; local me_find="$RPS"
  wrk_run "mongo-express 1.0.0, document by _id" -t2 -c64 -d"${seconds}s" -H "$auth" "$me_base$doc_path"; local me_doc="$RPS" me_doc_p99="$P99"
  wrk_run "orderdesk /orders/{order_id}" -t2 -c64 -d"${seconds}s" -H "Cookie: od_session=$SESSION" "$BASE/orders/$ORDER"; local od="$RPS" od_p99="$P99"
  kill "$me_pid" 2>/dev/null || true; pkill -f "node app.js" 2>/dev/null || true
  stop_orderdesk
  python3 -c "import sys; od, f, d = map(float, sys.argv[1:]); print(f'orderdesk / find page: {od/f:.2f}x (target 4x); orderdesk / document page: {od/d:.2f}x (target 1.5x)')" "$od" "$me_find" "$me_doc"
  # The issue's 50 ms was set on a machine where the document page's p99 was 68 ms: the peer's
  # p99 in this same run says how this machine compares.
  python3 - "$od_p99" "$me_doc_p99" <<'PY'
import re, sys
def ms(text):
    value, unit = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]
od, doc = map(ms, sys.argv[1:])
verdict = "met" if od <= 50 else "not met"
print(f"orderdesk p99: {od:.1f} ms (target 50 ms: {verdict}); the document page's p99 in this run: {doc:.1f} ms "
      f"(68 ms where the target was set): orderdesk's p99 is {od / doc:.2f}x the peer's (target's own ratio 0.74x)")
PY
}

load_bench() {
  start_orderdesk
  local seconds="${BENCH_SECONDS:-60}" peak=0 rss
  ( while kill -0 "$SERVER_PID" 2>/dev/null; do
      rss="$(awk '/VmRSS/ { print $2 }' "/proc/$SERVER_PID/status" 2>/dev/null || echo 0)"
      echo "$rss"; sleep 0.5
    done ) >"$WORK/rss.txt" &
  local sampler=$!
  echo "| run | req/s | p50 | p99 | errors |"
  echo "|---|---|---|---|---|"
  wrk_run "orderdesk /orders/{order_id}, 500 clients, ${seconds} s" -t2 -c500 -d"${seconds}s" --timeout 10s -H "Cookie: od_session=$SESSION" "$BASE/orders/$ORDER"
  local health; health="$(curl -s -o /dev/null -w '%{http_code} in %{time_total}s' "$BASE/healthz")"
  kill "$sampler" 2>/dev/null || true
  peak="$(sort -n "$WORK/rss.txt" | tail -1)"
  echo "server RSS peak: $((peak / 1024)) MB; /healthz right after: $health"
  stop_orderdesk
}
