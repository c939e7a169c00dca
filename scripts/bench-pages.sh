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
  # An order's page lists the slow operations that named it, and wrk's overload makes some
  # lookups slow: with the usual 100 ms the page measured would grow during the run.
  LEPTOS_SITE_ADDR="127.0.0.1:$port" ORDERDESK_LOG_FORMAT=json RUST_LOG="warn,orderdesk::startup=info" \
    ORDERDESK_SLOW_QUERY_MS="${BENCH_SLOW_QUERY_MS:-10000}" \
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
  MONGOD_PID="$(cat "$WORK/db/mongod.pid")"
  echo "$TABLE_HEAD"
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

# stop_process PID: stops a process this script started (if any) and waits for it.
stop_process() {
  if [ -n "${1:-}" ]; then
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
  fi
}

stop_orderdesk() {
  stop_process "${SERVER_PID:-}"
  SERVER_PID=""
}

# cpu_ms PID: the CPU time (user + system) the process has used so far, in ms ("" when gone).
cpu_ms() {
  awk -v tck="$(getconf CLK_TCK)" '{ print ($14 + $15) * 1000 / tck }' "/proc/$1/stat" 2>/dev/null || true
}

# wrk_run NAME ARGS...: one wrk run after a 3 s warm-up (connections, caches) on the same
# URL; prints "| NAME | req/s | p50 | p99 | app CPU/req | mongod CPU/req | errors |" and sets
# RPS and P99 (wrk's text, "68.12ms"). The CPU columns are the serving process's ($APP_PID)
# and mongod's ($MONGOD_PID) CPU time over the run from /proc, divided by the requests served.
wrk_run() {
  local name="$1"; shift
  wrk -t2 -c16 -d3s "${@: -3}" >/dev/null
  local app0 db0 app1 db1
  app0="$(cpu_ms "${APP_PID:-$SERVER_PID}")"; db0="$(cpu_ms "$MONGOD_PID")"
  local out; out="$(wrk --latency "$@")"
  app1="$(cpu_ms "${APP_PID:-$SERVER_PID}")"; db1="$(cpu_ms "$MONGOD_PID")"
  echo "$out" >"$WORK/wrk-$(echo "$name" | tr -c 'a-z0-9' '-').txt"
  RPS="$(echo "$out" | awk '/Requests\/sec/ { print $2 }')"
  local p50 p99 errors non2xx requests
  p50="$(echo "$out" | awk '$1 == "50%" { print $2 }')"
  p99="$(echo "$out" | awk '$1 == "99%" { print $2 }')"
  P99="$p99"
  requests="$(echo "$out" | awk '/requests in/ { print $1 }')"
  APP_CPU="$(awk -v a="$app0" -v b="$app1" -v n="$requests" 'BEGIN { printf "%.3f", (b - a) / n }')"
  DB_CPU="$(awk -v a="$db0" -v b="$db1" -v n="$requests" 'BEGIN { printf "%.3f", (b - a) / n }')"
  errors="$(echo "$out" | sed -n 's/.*Socket errors: \(.*\)/\1/p')"
  non2xx="$(echo "$out" | awk '/Non-2xx/ { print $NF }')"
  printf '| %s | %s | %s | %s | %s ms | %s ms | %s |\n' "$name" "$RPS" "$p50" "$p99" "$APP_CPU" "$DB_CPU" \
    "non-2xx/3xx ${non2xx:-0}; ${errors:-no socket errors}"
}

# quiet_mongod: waits (at most a minute) until mongod uses under 5 % of a core, so that no
# query left running by the run before is measured with the next.
quiet_mongod() {
  local before after
  for _ in $(seq 1 60); do
    before="$(cpu_ms "$MONGOD_PID")"; sleep 1; after="$(cpu_ms "$MONGOD_PID")"
    awk -v a="$before" -v b="$after" 'BEGIN { exit !(b - a < 50) }' && return 0
  done
}

TABLE_HEAD='| page | req/s | p50 | p99 | server CPU/req | mongod CPU/req | errors |
|---|---|---|---|---|---|---|'

# start_mongo_express DB: the peer, on database DB of the throwaway mongod; sets ME_BASE,
# ME_AUTH and APP_PID_ME (node's own pid, for its CPU).
start_mongo_express() {
  local me="$ROOT/benches/mongo-express"
  if [ ! -d "$me/node_modules/mongo-express" ] || [ "$me/package-lock.json" -nt "$me/node_modules/.package-lock.json" ]; then
    say "installing mongo-express 1.0.0 (the peer) into benches/mongo-express/"
    (cd "$me" && npm ci --no-audit --no-fund --loglevel=error)
  fi
  # Computed first: the assignments before `node` below set PORT to the peer's own.
  local me_port mongo_url="mongodb://127.0.0.1:$PORT/$1?directConnection=true"
  me_port="$(free_port)"
  (cd "$me/node_modules/mongo-express" && NODE_ENV=production PORT="$me_port" VCAP_APP_HOST=127.0.0.1 \
    ME_CONFIG_MONGODB_URL="$mongo_url" ME_CONFIG_MONGODB_ENABLE_ADMIN=false \
    ME_CONFIG_BASICAUTH_USERNAME=bench ME_CONFIG_BASICAUTH_PASSWORD=bench exec node app.js >"$WORK/mongo-express.log" 2>&1) &
  APP_PID_ME=$!
  ME_BASE="http://127.0.0.1:$me_port"
  ME_AUTH="Authorization: Basic $(printf bench:bench | base64)"
  for _ in $(seq 1 100); do curl -fs -H "$ME_AUTH" "$ME_BASE/" >/dev/null && break; sleep 0.2; done
}

stop_mongo_express() {
  stop_process "${APP_PID_ME:-}"
  APP_PID_ME=""
}

# ratio LABEL A B TARGET: prints "LABEL: A/B = x (target TARGET: met|not met)".
ratio() {
  python3 -c "import sys; l, a, b, t = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]); r = a / b; print(f'{l}: {r:.2f}x (target {t:g}x: {\"met\" if r >= t else \"not met\"})')" "$@"
}

# p99_ratio LABEL OURS PEERS: orderdesk's p99 over the peer's (wrk's texts), target 0.3.
p99_ratio() {
  python3 - "$@" <<'PY'
import re, sys
def ms(text):
    value, unit = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]
label, ours, peers = sys.argv[1], ms(sys.argv[2]), ms(sys.argv[3])
r = ours / peers
print(f"{label}: p99 {ours:.1f} ms vs {peers:.1f} ms = {r:.2f}x the peer's (target 0.3x: {'met' if r <= 0.3 else 'not met'})")
PY
}

# The pages people open, each beside mongo-express's counterpart on the same data and mongod:
# the order page, the order list with a status filter, a search by display ID; then the
# counters page as vendors grow (no peer) and the CSV export of 100,000 orders.
pages_bench() {
  start_orderdesk
  MONGOD_PID="$(cat "$WORK/db/mongod.pid")"
  start_mongo_express load
  local me="$ME_BASE/db/load/orders" auth="$ME_AUTH"
  local find="$me?key=order_id&value=$ORDER&type=S"
  local doc_path; doc_path="$(curl -s -H "$auth" "$find" | grep -o '/db/load/orders/%22[0-9a-f]*%22' | awk 'NR == 1' || true)"
  [ -n "$doc_path" ] || { tail -20 "$WORK/mongo-express.log" >&2; die "mongo-express's find page did not list order $ORDER"; }
  local display; display="ORD-$(echo "${ORDER:19:6}" | tr a-f A-F)"
  local seconds="${BENCH_SECONDS:-10}" cookie="Cookie: od_session=$SESSION"
  # The same page in every run: none of the slow operations earlier runs logged for the order.
  python3 "$ROOT/scripts/mongo.py" forget-slow "$PORT" load "$ORDER" "$display"
  say "order $ORDER ($display); wrk -t2 -c64 -d${seconds}s each, one after the other, the same mongod"
  echo "$TABLE_HEAD"
  # orderdesk first: the peer's regex find scans the collection, and mongod works on after
  # wrk stops (quiet_mongod waits that out before the next measurement).
  APP_PID="$SERVER_PID"
  wrk_run "orderdesk /orders/{order_id}" -t2 -c64 -d"${seconds}s" -H "$cookie" "$BASE/orders/$ORDER"; local od="$RPS" od_p99="$P99" od_cpu="$APP_CPU"
  wrk_run "orderdesk /orders?status=failed" -t2 -c64 -d"${seconds}s" -H "$cookie" "$BASE/orders?status=failed"; local od_list="$RPS" od_list_p99="$P99"
  # One order matches: the answer is a 302 to its page.
  wrk_run "orderdesk /search?q=%23{display ID} (302 to the order)" -t2 -c64 -d"${seconds}s" -H "$cookie" "$BASE/search?q=%23$display"; local od_search="$RPS" od_search_p99="$P99"
  # wrk asks for no encoding; a browser always does (Chromium's header), and gets brotli.
  local browser="Accept-Encoding: gzip, deflate, br, zstd"
  wrk_run "orderdesk /orders/{order_id}, as a browser asks (compressed)" -t2 -c64 -d"${seconds}s" -H "$cookie" -H "$browser" "$BASE/orders/$ORDER"; local od_br="$RPS" od_br_p99="$P99"
  APP_PID="$APP_PID_ME"
  wrk_run "mongo-express 1.0.0, find by order_id" -t2 -c64 -d"${seconds}s" --timeout 30s -H "$auth" "$find"; local me_find="$RPS"
  wrk_run "mongo-express 1.0.0, document by _id" -t2 -c64 -d"${seconds}s" --timeout 30s -H "$auth" "$ME_BASE$doc_path"; local me_doc="$RPS" me_doc_p99="$P99"
  wrk_run "mongo-express 1.0.0, document by _id, as a browser asks" -t2 -c64 -d"${seconds}s" --timeout 30s -H "$auth" -H "$browser" "$ME_BASE$doc_path"; local me_doc_br="$RPS" me_doc_br_p99="$P99"
  wrk_run "mongo-express 1.0.0, collection view, status = failed, newest first" -t2 -c64 -d"${seconds}s" --timeout 30s -H "$auth" \
    "$me?key=status&value=failed&type=S&sort%5Bcreated_at%5D=-1"; local me_list="$RPS" me_list_p99="$P99"
  wrk_run "mongo-express 1.0.0, find display_id by regex" -t2 -c64 -d"${seconds}s" --timeout 30s -H "$auth" \
    "$me?key=display_id&value=%5E$display%24&type=R"; local me_search="$RPS" me_search_p99="$P99"
  APP_PID=""
  stop_mongo_express
  quiet_mongod
  ratio "order page / mongo-express find page" "$od" "$me_find" 10
  ratio "order page / mongo-express document page" "$od" "$me_doc" 3
  ratio "order page / mongo-express document page, as a browser asks" "$od_br" "$me_doc_br" 3
  ratio "order list / mongo-express collection view" "$od_list" "$me_list" 5
  ratio "display-ID search / mongo-express regex find" "$od_search" "$me_search" 1
  p99_ratio "order page vs document page" "$od_p99" "$me_doc_p99"
  p99_ratio "order page vs document page, as a browser asks" "$od_br_p99" "$me_doc_br_p99"
  p99_ratio "order list vs collection view" "$od_list_p99" "$me_list_p99"
  p99_ratio "display-ID search vs regex find" "$od_search_p99" "$me_search_p99"
  echo "orderdesk CPU per order page: $od_cpu ms (target 0.35 ms)"
  counters_bench
  stop_orderdesk
  export_bench
}

# The counters page with 10, 1,000 and 5,000 vendor counters today (the demo's own replaced).
counters_bench() {
  local seconds="${BENCH_SECONDS:-10}" n
  say "the counters page as vendors grow (no peer)"
  echo "$TABLE_HEAD"
  for n in 10 1000 5000; do
    counters_today "$n"
    wrk_run "orderdesk /counters, $n counters today" -t2 -c64 -d"${seconds}s" --timeout 30s -H "Cookie: od_session=$SESSION" "$BASE/counters"
  done
}

# counters_today N: today's counters in database `load` are exactly N vendors', written with
# the peer's own MongoDB driver (no other client to install).
counters_today() {
  (cd "$ROOT/benches/mongo-express/node_modules/mongo-express" && node - "$PORT" "$1" <<'JS'
const { MongoClient } = require("mongodb");
const [port, n] = process.argv.slice(2).map(Number);
(async () => {
  const client = await MongoClient.connect(`mongodb://127.0.0.1:${port}/?directConnection=true`);
  const counters = client.db("load").collection("ordercounters");
  const day = new Date().toISOString().slice(0, 10).replace(/-/g, "");
  await counters.deleteMany({ counterId: { $regex: `^${day}-` } });
  const docs = Array.from({ length: n }, (_, i) => ({
    counterId: `${day}-bench-vendor-${String(i).padStart(5, "0")}`,
    sequence: 1 + ((i * 7919) % 99000),
    lastUpdated: new Date(),
    __v: 0,
  }));
  await counters.insertMany(docs);
  await client.close();
})().catch((e) => { console.error(e.message); process.exit(1); });
JS
  ) || die "could not write $1 counters"
}

# The CSV export of 100,000 orders: orderdesk's /orders.csv against mongo-express's export of
# the same collection, each downloaded whole three times, alternating; the median.
export_bench() {
  local n="${BENCH_EXPORT_ORDERS:-100000}" runs="${BENCH_EXPORT_RUNS:-3}"
  say "the CSV export of $n orders"
  ORDERDESK_DATABASE=export target/release/orderdesk seed-demo --if-empty --orders "$n" --seed 11
  ORDERDESK_DATABASE=export serve_orderdesk
  start_mongo_express export
  echo "| export | median time | bytes | rows | server CPU | mongod CPU |"
  echo "|---|---|---|---|---|---|"
  local who url auth pid
  for who in orderdesk mongo-express; do
    if [ "$who" = orderdesk ]; then
      url="$BASE/orders.csv"; auth="Cookie: od_session=$SESSION"; pid="$SERVER_PID"
    else
      url="$ME_BASE/db/export/expCsv/orders"; auth="$ME_AUTH"; pid="$APP_PID_ME"
    fi
    local times=() app0 db0 app1 db1 out
    app0="$(cpu_ms "$pid")"; db0="$(cpu_ms "$MONGOD_PID")"
    for _ in $(seq 1 "$runs"); do
      out="$(curl -s -H "$auth" -o "$WORK/export.csv" -w '%{http_code} %{time_total}' "$url")"
      [ "${out%% *}" = 200 ] || die "$who's export answered ${out%% *}"
      times+=("${out#* }")
    done
    app1="$(cpu_ms "$pid")"; db1="$(cpu_ms "$MONGOD_PID")"
    python3 - "$who" "$(wc -c <"$WORK/export.csv")" "$(($(wc -l <"$WORK/export.csv") - 1))" \
      "$app0" "$app1" "$db0" "$db1" "$runs" "${times[@]}" <<'PY'
import statistics, sys
who, size, rows, a0, a1, d0, d1, runs, *times = sys.argv[1:]
runs = int(runs)
print(f"| {who} | {statistics.median(map(float, times)):.2f} s | {int(size):,} | {int(rows):,} | "
      f"{(float(a1) - float(a0)) / runs / 1000:.2f} s | {(float(d1) - float(d0)) / runs / 1000:.2f} s |")
PY
  done
  stop_mongo_express
  stop_orderdesk
}

# start_browser_bench: Chromium and the Playwright packages, the release bundle (what ships)
# and the release server, started and signed in (start_orderdesk).
start_browser_bench() {
  ensure_chromium
  ensure_npm
  ensure_e2e_npm
  say "release build of the front end"
  cargo leptos build --release --precompress --frontend-only --split
  start_orderdesk
}

# Paste to painted: end2end/bench/paste.mjs drives Debian's Chromium against the release
# server and the release bundle, on the same 200,000 orders.
paste_bench() {
  start_browser_bench
  BASE_URL="$BASE" node "$ROOT/end2end/bench/paste.mjs"
  stop_orderdesk
}

# A full load until the page is live (navigation start to <body data-hydrated>), first and
# later visits: end2end/bench/hydrate.mjs in Debian's Chromium against the release server and
# bundle. To compare another build of the bundle, serve its site folder with the same binary
# (LEPTOS_SITE_ROOT=… LEPTOS_SITE_ADDR=… target/release/orderdesk serve) and add it to
# HYDRATE_PEERS as name=url,… (BENCHMARKS.md, issue #30).
hydrate_bench() {
  start_browser_bench
  HYDRATE_SITES="orderdesk=$BASE${HYDRATE_PEERS:+,$HYDRATE_PEERS}" HYDRATE_PAGES="/,/orders/$ORDER,/counters" \
    node "$ROOT/end2end/bench/hydrate.mjs"
  stop_orderdesk
}

load_bench() {
  start_orderdesk
  local seconds="${BENCH_SECONDS:-60}" peak=0 rss
  ( while kill -0 "$SERVER_PID" 2>/dev/null; do
      rss="$(awk '/VmRSS/ { print $2 }' "/proc/$SERVER_PID/status" 2>/dev/null || echo 0)"
      echo "$rss"; sleep 0.5
    done ) >"$WORK/rss.txt" &
  local sampler=$!
  MONGOD_PID="$(cat "$WORK/db/mongod.pid")"
  echo "$TABLE_HEAD"
  wrk_run "orderdesk /orders/{order_id}, 500 clients, ${seconds} s" -t2 -c500 -d"${seconds}s" --timeout 10s -H "Cookie: od_session=$SESSION" "$BASE/orders/$ORDER"
  local health; health="$(curl -s -o /dev/null -w '%{http_code} in %{time_total}s' "$BASE/healthz")"
  kill "$sampler" 2>/dev/null || true
  peak="$(sort -n "$WORK/rss.txt" | tail -1)"
  echo "server RSS peak: $((peak / 1024)) MB; /healthz right after: $health"
  stop_orderdesk
}
