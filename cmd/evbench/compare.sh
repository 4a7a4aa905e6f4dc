#!/usr/bin/env bash
# compare.sh: the same workloads against evserver and three other WebSocket echo servers, one server at a
# time, interleaved over rounds, then one Markdown table (medians over rounds, and the ratio evserver/gobwas).
#
#   bash cmd/evbench/compare.sh                        # 2 rounds of 10 s runs, 15 000 idle connections
#   DURATION=5s ROUNDS=1 SKIP="nginx node" bash cmd/evbench/compare.sh
#
# Environment:
#   ROUNDS      rounds; each runs every server once, in the order evserver gobwas nginx node   (2)
#   DURATION    measured time of each echo and handshake run, a Go duration                    (10s)
#   IDLE_CONNS  connections of the idle workload (the open-file limit here is 20 000)           (15000)
#   SKIP        servers to leave out, space-separated: gobwas nginx node                        ()
#   PORT_BASE   first loopback port tried for the servers                                      (18100)
#   RESULTS     if set, the raw JSON lines of every run are copied to this file
#
# Servers: evserver (this repo, handlers/echo.lua); gobwas (peers/gobwas, goroutine per connection);
# nginx (Debian nginx-extras + lua-nginx-websocket, peers/nginx); node (ws package, peers/node). nginx is
# installed with apt-get and node's ws with npm when missing; a server that cannot be installed or started
# shows "n/a" in its column. Every server started here is stopped on exit, whatever the exit.
set -uo pipefail

ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-10s}
IDLE_CONNS=${IDLE_CONNS:-15000}
SKIP=${SKIP:-}
PORT_BASE=${PORT_BASE:-18100}
SERVERS=(evserver gobwas nginx node)

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
export PATH="/usr/local/go/bin:$PATH"

work=$(mktemp -d "${TMPDIR:-/tmp}/evbench-compare.XXXXXX") || exit 1
# nginx workers run as nobody when the master is root: they must reach their prefix under $work.
chmod 755 "$work"
results="$work/results.jsonl"
: >"$results"

SERVER_PID=""
SERVER_PORT=""
SERVER_LOG=""

log() { echo "[compare $(date +%H:%M:%S)] $*" >&2; }

stop_server() {
  local pid=$SERVER_PID
  SERVER_PID=""
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "pid $pid did not stop on SIGTERM within 5s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null
  return 0
}

cleanup() {
  stop_server
  if [ -n "${RESULTS:-}" ] && [ -s "$results" ]; then cp "$results" "$RESULTS"; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_port prints the first port from PORT_BASE on that nothing listens on.
free_port() {
  local p
  for p in $(seq "$PORT_BASE" $((PORT_BASE + 200))); do
    if ! port_open "$p"; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

is_skipped() { [[ " $SKIP " == *" $1 "* ]]; }

# ---------------------------------------------------------------------------------------------------------
# Build and install.

# The figures belong to one evserver version: name it in the output.
rev=$(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)
log "building evserver ($rev), evbench, gobwas peer into $work"
(cd "$repo" && go build -o "$work/evserver" ./cmd/evserver) || { log "cannot build evserver"; exit 1; }
(cd "$repo" && go build -o "$work/evbench" ./cmd/evbench) || { log "cannot build evbench"; exit 1; }
declare -A UNAVAILABLE=()
(cd "$repo" && go build -o "$work/gobwas" ./cmd/evbench/peers/gobwas) || UNAVAILABLE[gobwas]="build failed"

apt_install() {
  if ! command -v apt-get >/dev/null; then
    echo "no apt-get here" >>"$work/apt.log"
    return 1
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "apt-get needs root: install $* by hand" >>"$work/apt.log"
    return 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >>"$work/apt.log" 2>&1 && return 0
  # An old or empty package list is the usual reason; refresh it once.
  apt-get update -q >>"$work/apt.log" 2>&1
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >>"$work/apt.log" 2>&1
}

NGINX_MODULES=""
NGINX_MISSING=""
# find_nginx checks the three pieces the nginx peer needs; NGINX_MISSING says which one is not there.
find_nginx() {
  local d
  if ! command -v nginx >/dev/null; then
    NGINX_MISSING="no nginx on PATH"
    return 1
  fi
  if [ ! -f /usr/share/lua/5.1/nginx/websocket/server.lua ]; then
    NGINX_MISSING="no nginx.websocket.server (lua-nginx-websocket)"
    return 1
  fi
  for d in /usr/share/nginx/modules /usr/lib/nginx/modules; do
    if [ -f "$d/ngx_http_lua_module.so" ] && [ -f "$d/ndk_http_module.so" ]; then
      NGINX_MODULES=$d
      return 0
    fi
  done
  NGINX_MISSING="no ngx_http_lua_module.so (nginx-extras)"
  return 1
}

if ! is_skipped nginx; then
  if ! find_nginx; then
    log "installing nginx-extras lua-nginx-websocket (apt-get): $NGINX_MISSING"
    if ! apt_install nginx-extras lua-nginx-websocket; then
      UNAVAILABLE[nginx]="apt-get install failed: $(tail -n 1 "$work/apt.log" 2>/dev/null)"
    elif ! find_nginx; then
      UNAVAILABLE[nginx]="installed, but $NGINX_MISSING"
    fi
  fi
fi

if ! is_skipped node; then
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    log "installing nodejs npm (apt-get)"
    apt_install nodejs npm
  fi
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    UNAVAILABLE[node]="node/npm not installable"
  elif ! (cd "$here/peers/node" && npm install --no-audit --no-fund --no-package-lock --loglevel=error >>"$work/npm.log" 2>&1); then
    UNAVAILABLE[node]="npm install ws failed: $(tail -n 1 "$work/npm.log")"
  fi
fi

# ---------------------------------------------------------------------------------------------------------
# Servers. start_NAME PORT launches one in the background and sets SERVER_PID to the pid whose memory the
# idle workload measures (with its children: nginx's workers).

start_evserver() {
  "$work/evserver" -addr "127.0.0.1:$1" -handlers "$repo/handlers" -log-level warn >>"$work/evserver.log" 2>&1 &
  SERVER_PID=$!
}
start_gobwas() {
  "$work/gobwas" -addr "127.0.0.1:$1" >>"$work/gobwas.log" 2>&1 &
  SERVER_PID=$!
}
start_nginx() {
  local prefix="$work/nginx-$1-$RANDOM"
  mkdir -p "$prefix" && chmod 755 "$prefix"
  cp "$here/peers/nginx/echo.lua" "$prefix/"
  sed -e "s|@PORT@|$1|g" -e "s|@WORKERS@|$(nproc)|g" -e "s|@MODULES@|$NGINX_MODULES|g" \
    "$here/peers/nginx/nginx.conf.in" >"$prefix/nginx.conf"
  nginx -p "$prefix/" -c "$prefix/nginx.conf" -e "$prefix/error.log" -g 'daemon off;' >>"$work/nginx.log" 2>&1 &
  SERVER_PID=$!
  SERVER_LOG="$prefix/error.log"
}
start_node() {
  node "$here/peers/node/server.js" "$1" >>"$work/node.log" 2>&1 &
  SERVER_PID=$!
}

# start_server NAME: start it on a free port and wait until it accepts; 1 if it does not within 10 s.
start_server() {
  local name=$1 port
  port=$(free_port) || { log "no free port from $PORT_BASE"; return 1; }
  SERVER_LOG="$work/$name.log"
  "start_$name" "$port"
  SERVER_PORT=$port
  for _ in $(seq 100); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      log "$name exited at start; log: $(tail -n 3 "$SERVER_LOG" 2>/dev/null | tr '\n' ' ')"
      wait "$SERVER_PID" 2>/dev/null
      SERVER_PID=""
      return 1
    fi
    if port_open "$port"; then return 0; fi
    sleep 0.1
  done
  log "$name did not accept on port $port within 10s"
  stop_server
  return 1
}

# ---------------------------------------------------------------------------------------------------------
# Workloads: id, row label, evbench flags. The idle one gets -pid of a freshly started server.

W_IDS=(echo64 echo16k handshake idle)
declare -A W_LABEL=(
  [echo64]="echo 64 B text, 50 conns (msg/s)"
  [echo16k]="echo 16 KiB binary, 50 conns (msg/s)"
  [handshake]="handshake + close, 20 concurrent (per s)"
  [idle]="idle, $IDLE_CONNS conns (RSS KiB/conn, lower is better)"
)
declare -A W_ARGS=(
  [echo64]="-mode echo -conns 50 -size 64"
  [echo16k]="-mode echo -conns 50 -size 16384 -binary"
  [handshake]="-mode handshake -concurrency 20"
  [idle]="-mode idle -conns $IDLE_CONNS -settle 5s"
)

fail_record() { # server workload-id reason
  # The reason goes into a JSON string: no quotes, backslashes or control characters.
  local reason
  reason=$(printf '%s' "$3" | tr -d '\\\000-\037' | tr '"' "'")
  printf '{"server":"%s","workload":"%s","failed":"%s"}\n' "$1" "${W_LABEL[$2]}" "$reason" >>"$results"
}

# evbench's own bounds end every run (-duration, -timeout, -phase-timeout of 2 min for the idle dials); this
# timeout is only a guard against a bug in it.
if [[ $DURATION =~ ^([0-9]+)s$ ]]; then
  guard=$((BASH_REMATCH[1] + 150))
elif [[ $DURATION =~ ^([0-9]+)m$ ]]; then
  guard=$((BASH_REMATCH[1] * 60 + 150))
else
  guard=900
fi

run_workload() { # server workload-id
  local name=$1 id=$2 out rc json extra=""
  [ "$id" = idle ] && extra="-pid $SERVER_PID"
  # --foreground keeps evbench in this script's process group, so that Ctrl-C reaches it and ends the run at
  # once.
  # shellcheck disable=SC2086 # W_ARGS and extra are lists of flags: they are meant to split
  out=$(timeout --foreground "${guard}s" "$work/evbench" -label "$name" -workload "${W_LABEL[$id]}" \
    -url "ws://127.0.0.1:$SERVER_PORT/echo" -duration "$DURATION" ${W_ARGS[$id]} $extra 2>>"$work/evbench.err")
  rc=$?
  json=$(grep '^{' <<<"$out" | tail -n 1)
  log "  $name $id (exit $rc): $(grep -v '^{' <<<"$out" | head -n 1)"
  if [ -n "$json" ]; then
    echo "$json" >>"$results"
  else
    fail_record "$name" "$id" "evbench exit $rc: $(tail -n 1 "$work/evbench.err")"
  fi
  if [ $rc -ne 0 ]; then
    log "  errors: $(tail -n 1 "$work/evbench.err" | cut -c1-400)"
  fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    log "  $name DIED during $id; log tail: $(tail -n 5 "$SERVER_LOG" 2>/dev/null | tr '\n' ' ' | cut -c1-600)"
    wait "$SERVER_PID" 2>/dev/null
    SERVER_PID=""
  fi
}

# run_server NAME: the echo and handshake workloads on one server process, then idle on a fresh one, so that
# the idle baseline is a process that has served nothing yet.
run_server() {
  local name=$1 id reason
  if is_skipped "$name"; then
    for id in "${W_IDS[@]}"; do fail_record "$name" "$id" "skipped"; done
    return
  fi
  reason=${UNAVAILABLE[$name]:-}
  if [ -n "$reason" ]; then
    for id in "${W_IDS[@]}"; do fail_record "$name" "$id" "$reason"; done
    return
  fi
  local broken=""
  for id in "${W_IDS[@]}"; do
    if [ -n "$broken" ]; then
      fail_record "$name" "$id" "$broken"
      continue
    fi
    if [ "$id" = idle ] || [ -z "$SERVER_PID" ]; then
      stop_server
      if ! start_server "$name"; then
        # One failed start per round is enough to know: the other workloads of the round are n/a too.
        broken="did not start"
        fail_record "$name" "$id" "$broken"
        continue
      fi
    fi
    run_workload "$name" "$id"
  done
  stop_server
}

log "machine: $(nproc) cores, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg); go $(go env GOVERSION)"
command -v nginx >/dev/null && log "nginx: $(nginx -v 2>&1)"
command -v node >/dev/null && log "node: $(node --version), ws $(node -p "require('$here/peers/node/node_modules/ws/package.json').version" 2>/dev/null || echo '?')"
for s in "${!UNAVAILABLE[@]}"; do log "$s unavailable: ${UNAVAILABLE[$s]}"; done
log "ROUNDS=$ROUNDS DURATION=$DURATION IDLE_CONNS=$IDLE_CONNS SKIP='$SKIP'"

for round in $(seq "$ROUNDS"); do
  for name in "${SERVERS[@]}"; do
    log "round $round/$ROUNDS: $name"
    run_server "$name"
  done
done

log "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "evserver $rev; rounds: $ROUNDS, $DURATION per run (after 1 s warm-up for echo); client and servers share $(nproc) cores."
echo "Each cell is the median over rounds; the last column is evserver/gobwas of those medians."
echo
"$work/evbench" -mode report -in "$results" -servers "$(IFS=,; echo "${SERVERS[*]}")"
