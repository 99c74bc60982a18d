#!/usr/bin/env bash
# The comparison of issue 7: sidekick vs nginx vs haproxy as reverse proxies in front of the same nginx
# backend, on loopback, each proxy pinned alone to one core while wrk and the backend share the other.
# Every scenario is measured over several rounds, alternating the targets, and reported as ratios from
# this one run (absolute figures from different runs on a shared machine are not comparable).
#
#   ./build.sh bench                 # micro benchmarks + the comparison (writes docs/benchmarks.md)
#   BENCH_DURATION=5 BENCH_ROUNDS=3 ./build.sh bench --no-micro
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DURATION=${BENCH_DURATION:-8}
ROUNDS=${BENCH_ROUNDS:-2}
MICRO=1
for a in "$@"; do [[ $a == --no-micro ]] && MICRO=0; done

need() { # command package
  command -v "$1" >/dev/null 2>&1 && return 0
  echo "bench: installing $2"
  if [[ $(id -u) -ne 0 ]]; then echo "bench: $1 missing and not root: apt-get install $2" >&2; exit 1; fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}
need nginx nginx; need haproxy haproxy; need wrk wrk; need taskset util-linux; need curl curl; need python3 python3

if [[ $MICRO -eq 1 ]]; then
  dotnet run -c Release --project Sidekick.Benchmarks -- --filter '*' --job short --memory 2>&1 | tee artifacts/bench-micro.txt | grep -E '^\|' || true
fi

./build.sh publish >/dev/null
SIDEKICK=$ROOT/artifacts/publish/sidekick
NCPU=$(nproc)
PROXY_CPU=$(( NCPU > 1 ? 1 : 0 ))
LOAD_CPU=0

W=$(mktemp -d /tmp/sidekick-bench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 0.3; for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
# haproxy needs two descriptors per connection it may hold: size the idle test to the hard limit (10,000 at most).
HARD=$(ulimit -Hn); [[ $HARD == unlimited ]] && HARD=1048576
IDLE_CONNS=$(( HARD / 2 - 300 )); (( IDLE_CONNS > 10000 )) && IDLE_CONNS=10000
HA_MAXCONN=$(( IDLE_CONNS + 100 ))

BACKEND=18081; SK=18090; NX=18091; HA=18092; SKS=18093; NXS=18094; HAS=18095; SKT=18096; NXH=18097; HAH=18098
mkdir -p "$W/www" "$W/nginx-b" "$W/nginx-p"
head -c 1048576 /dev/urandom > "$W/www/1m"
head -c $((100 * 1048576)) /dev/zero > "$W/www/100m"
head -c 1048576 /dev/urandom > "$W/body-1m"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$W/tls.key" -out "$W/tls.crt" 2>/dev/null
cat "$W/tls.crt" "$W/tls.key" > "$W/tls.pem"
chmod -R a+rX "$W"   # nginx workers run as an unprivileged user

cat > "$W/backend.conf" <<EOF
worker_processes 1;
worker_rlimit_nofile 65536;
pid $W/nginx-b/pid;
error_log $W/nginx-b/error.log crit;
events { worker_connections 20000; }
http {
  access_log off;
  client_body_temp_path $W/nginx-b; proxy_temp_path $W/nginx-b; fastcgi_temp_path $W/nginx-b; uwsgi_temp_path $W/nginx-b; scgi_temp_path $W/nginx-b;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$BACKEND;
    client_max_body_size 0;
    location = /small { return 200 "hello world\n"; }
    location = /upload { return 200 "ok\n"; }
    location / { root $W/www; }
  }
}
EOF
cat > "$W/proxy.conf" <<EOF
worker_processes 1;
worker_rlimit_nofile 65536;
pid $W/nginx-p/pid;
error_log $W/nginx-p/error.log crit;
events { worker_connections 20000; }
http {
  access_log off;
  client_body_temp_path $W/nginx-p; proxy_temp_path $W/nginx-p; fastcgi_temp_path $W/nginx-p; uwsgi_temp_path $W/nginx-p; scgi_temp_path $W/nginx-p;
  keepalive_requests 1000000;
  upstream backend { server 127.0.0.1:$BACKEND; keepalive 128; }
  server {
    listen 127.0.0.1:$NX;
    listen 127.0.0.1:$NXS ssl;
    ssl_certificate $W/tls.crt;
    ssl_certificate_key $W/tls.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    client_max_body_size 0;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_request_buffering off;
      proxy_buffering off;
    }
  }
  # The same proxy doing the header work sidekick does on every request (its forwarding headers in, its Server
  # and X-Proxy headers out), for the equal-work scenario.
  server {
    listen 127.0.0.1:$NXH;
    client_max_body_size 0;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$http_host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Real-IP \$remote_addr;
      proxy_set_header X-Forwarded-Host \$http_host;
      proxy_set_header X-Forwarded-Proto \$scheme;
      proxy_pass_header Server;
      add_header Server SideKick;
      add_header X-Proxy true;
      proxy_request_buffering off;
      proxy_buffering off;
    }
  }
}
EOF
cat > "$W/haproxy.cfg" <<EOF
global
  nbthread 1
  maxconn $HA_MAXCONN
defaults
  mode http
  timeout connect 10s
  timeout client 60s
  timeout server 60s
  http-reuse always
frontend fe
  bind 127.0.0.1:$HA
  bind 127.0.0.1:$HAS ssl crt $W/tls.pem alpn http/1.1
  default_backend be
frontend fe-headers
  bind 127.0.0.1:$HAH
  option forwardfor
  http-request set-header X-Real-IP %[src]
  http-request set-header X-Forwarded-Host %[req.hdr(host)]
  http-request set-header X-Forwarded-Proto http
  http-response add-header Server SideKick
  http-response add-header X-Proxy true
  default_backend be
backend be
  server b1 127.0.0.1:$BACKEND
EOF
# A fixed request rate: each connection waits 8 ms after every response (wrk's delay()), so 32 connections offer
# about 3,600 requests/s whatever the proxy; the figure that matters is the latency at that rate.
cat > "$W/rate.lua" <<EOF
function delay() return 8 end
EOF
cat > "$W/post.lua" <<EOF
local f = io.open("$W/body-1m", "rb"); wrk.method = "POST"; wrk.body = f:read("*all"); f:close()
wrk.headers["Content-Type"] = "application/octet-stream"
EOF

taskset -c $LOAD_CPU nginx -c "$W/backend.conf" -g 'daemon off;' & PIDS+=($!)
wait_ok() { for i in $(seq 1 150); do curl -fsS -o /dev/null "$@" 2>/dev/null && return 0; sleep 0.1; done; echo "bench: $1 not answering" >&2; return 1; }
wait_ok "http://127.0.0.1:$BACKEND/small"
taskset -c $PROXY_CPU nginx -c "$W/proxy.conf" -g 'daemon off;' & PIDS+=($!); NX_MASTER=$!
taskset -c $PROXY_CPU haproxy -db -f "$W/haproxy.cfg" >/dev/null 2>&1 & PIDS+=($!); HA_PID=$!
taskset -c $PROXY_CPU "$SIDEKICK" --quiet --address 127.0.0.1:$SK --health-path=/small "http://127.0.0.1:$BACKEND" >"$W/sidekick.log" 2>&1 & PIDS+=($!); SK_PID=$!
# A sidekick tracing every request as JSON to a file (issue 5: the cost of tracing).
taskset -c $PROXY_CPU "$SIDEKICK" --trace all --json --address 127.0.0.1:$SKT --health-path=/small "http://127.0.0.1:$BACKEND" >"$W/trace.jsonl" 2>&1 & PIDS+=($!); SKT_PID=$!
# A second sidekick terminating TLS (sidekick has one listener per process).
taskset -c $PROXY_CPU "$SIDEKICK" --quiet --address 127.0.0.1:$SKS --cert "$W/tls.crt" --key "$W/tls.key" --health-path=/small "http://127.0.0.1:$BACKEND" >"$W/sidekick-tls.log" 2>&1 & PIDS+=($!); SKS_PID=$!
wait_ok "http://127.0.0.1:$SK/v1/health" || { cat "$W/sidekick.log" >&2; exit 1; }
wait_ok "http://127.0.0.1:$SKT/v1/health"
for p in $SK $NX $HA $SKT $NXH $HAH; do wait_ok "http://127.0.0.1:$p/small"; done
for p in $SKS $NXS $HAS; do wait_ok "https://127.0.0.1:$p/small" -k; done

port_of() { case $1 in direct) echo $BACKEND;; sidekick) echo $SK;; nginx) echo $NX;; haproxy) echo $HA;;
  sidekick-tls) echo $SKS;; nginx-tls) echo $NXS;; haproxy-tls) echo $HAS;; sidekick-trace) echo $SKT;;
  nginx-hdr) echo $NXH;; haproxy-hdr) echo $HAH;; esac; }
# Processes whose CPU and memory count for a target (nginx: its workers too).
pids_of() {
  case $1 in
    sidekick) echo $SK_PID;;
    sidekick-tls) echo $SKS_PID;;
    sidekick-trace) echo $SKT_PID;;
    haproxy|haproxy-tls|haproxy-hdr) echo $HA_PID;;
    nginx|nginx-tls|nginx-hdr) echo $NX_MASTER $(pgrep -P $NX_MASTER | tr '\n' ' ');;
    *) echo "";;
  esac
}
scheme_of() { [[ $1 == *-tls ]] && echo https || echo http; }
ticks() { local t=0; for p in $(pids_of "$1"); do t=$(( t + $(awk '{print $14 + $15}' /proc/$p/stat) )); done; echo $t; }
rss_kb() { local r=0; for p in $(pids_of "$1"); do r=$(( r + $(awk '/VmRSS/{print $2}' /proc/$p/status) )); done; echo $r; }
# Allocation in steady state: bytes allocated (dotnet_gc_allocated_bytes_total) and requests forwarded
# (sidekick_requests_total) read from the metrics page 1 s into a run and 1 s before its end, so connection set-up
# is left out; what one scrape itself allocates (two scrapes back to back, at rest) is subtracted.
alloc_sample() { curl -fsS "http://127.0.0.1:$SK/.prometheus/metrics" 2>/dev/null |
  awk '/^dotnet_gc_allocated_bytes_total /{a=$2} /^sidekick_requests_total/{r+=$2} END{printf "%d %d", a, r}'; }
SCRAPE_COST=$( s1=$(alloc_sample); s2=$(alloc_sample); echo $(( ${s2% *} - ${s1% *} )) )

RESULTS=$W/results.tsv
echo -e "scenario\ttarget\tround\trps\tmbps\tp50_ms\tp99_ms\tcpu_us\trss_idle_kb\trss_load_kb\talloc_per_req" > "$RESULTS"

to_ms() { awk -v v="$1" 'BEGIN{ if (v ~ /us$/) {sub(/us/,"",v); print v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v); print v+0} else if (v ~ /s$/) {sub(/s/,"",v); print v*1000} else print v }'; }

run_wrk() { # scenario target round conns path extra-args...
  local scenario=$1 target=$2 round=$3 conns=$4 path=$5; shift 5
  local port; port=$(port_of "$target")
  local t0 r0 a0 peak out
  t0=$(ticks "$target"); r0=$(rss_kb "$target"); peak=$r0
  a0=""
  if [[ $target == sidekick && $DURATION -gt 2 ]]; then
    ( sleep 1; alloc_sample > "$W/a0"; sleep $(( DURATION - 2 )); alloc_sample > "$W/a1" ) & local sampler=$!
    a0=yes
  fi
  out=$(taskset -c $LOAD_CPU wrk -t1 -c"$conns" -d"${DURATION}s" --latency "$@" "$(scheme_of "$target")://127.0.0.1:$port$path" 2>&1 &
        wpid=$!; while kill -0 $wpid 2>/dev/null; do r=$(rss_kb "$target"); (( r > peak )) && peak=$r; echo "$peak" > "$W/peak"; sleep 0.2; done; wait $wpid)
  [[ -f $W/peak ]] && peak=$(cat "$W/peak"); rm -f "$W/peak"
  local reqs rps p50 p99 mbps cpu alloc=""
  reqs=$(awk '/requests in/{print $1}' <<<"$out")
  local bad; bad=$(awk '/Non-2xx or 3xx responses/{print $5}' <<<"$out")
  # A stray error is recorded and reported, not fatal: one haproxy 5xx in a long run must not lose the run.
  if [[ -n $bad && $bad -gt 0 ]]; then
    echo "bench: $target answered $bad non-2xx responses in $scenario (round $round)" | tee -a "$W/errors.txt" >&2
  fi
  rps=$(awk '/Requests\/sec/{print $2}' <<<"$out")
  p50=$(to_ms "$(awk '$1=="50%"{print $2}' <<<"$out")")
  p99=$(to_ms "$(awk '$1=="99%"{print $2}' <<<"$out")")
  mbps=$(awk '/Transfer\/sec/{v=$2; if (v ~ /GB/) {sub(/GB/,"",v); v*=1024} else if (v ~ /MB/) {sub(/MB/,"",v)} else if (v ~ /KB/) {sub(/KB/,"",v); v/=1024} else {v=0}; print v}' <<<"$out")
  if [[ -n $(pids_of "$target") && -n $reqs && $reqs -gt 0 ]]; then
    cpu=$(awk -v d=$(( $(ticks "$target") - t0 )) -v n="$reqs" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.1f", d*1e6/hz/n}')
  else cpu=""; fi
  if [[ -n $a0 ]]; then
    wait "$sampler" || true
    local s0 s1; read -r -a s0 < "$W/a0" || true; read -r -a s1 < "$W/a1" || true; rm -f "$W/a0" "$W/a1"
    if [[ ${#s0[@]} -eq 2 && ${#s1[@]} -eq 2 && $(( s1[1] - s0[1] )) -gt 0 ]]; then
      alloc=$(( (s1[0] - s0[0] - SCRAPE_COST) / (s1[1] - s0[1]) )); (( alloc < 0 )) && alloc=0
    fi
  fi
  [[ $target == direct ]] && { r0=""; peak=""; }
  echo -e "$scenario\t$target\t$round\t${rps:-0}\t${mbps:-0}\t$p50\t$p99\t$cpu\t$r0\t$peak\t$alloc" >> "$RESULTS"
  printf '  %-10s %-9s round %s: %10s req/s  p99 %8s ms  cpu %6s us/req\n' "$scenario" "$target" "$round" "${rps:-0}" "$p99" "${cpu:--}"
}

TARGETS=(direct sidekick nginx haproxy)
# Resident memory at rest: now (started, health checked, a few requests served) and again after every load
# scenario, once the proxies have been idle for 12 s (sidekick gives its pools and heap back after 5 to 10 s).
REST=$W/rest.tsv; echo -e "target	start_kb	after_load_kb" > "$REST"
declare -A REST_START; for t in sidekick nginx haproxy; do REST_START[$t]=$(rss_kb "$t"); done
# The order of the targets turns by one place each round, so none always runs first or right after another: a
# machine that slows down or speeds up over a scenario's few seconds favours no target across the rounds.
rotated() { local k=$(( $1 % ($# - 1) )); shift; local a=("$@"); echo "${a[@]:k}" "${a[@]:0:k}"; }
for round in $(seq 1 "$ROUNDS"); do
  echo "round $round"
  plain=$(rotated $((round - 1)) "${TARGETS[@]}"); tls=$(rotated $((round - 1)) sidekick-tls nginx-tls haproxy-tls)
  for t in $(rotated $((round - 1)) "${TARGETS[@]}" sidekick-trace); do run_wrk small-keepalive "$t" "$round" 64 /small; done
  # Equal work: nginx and haproxy also add sidekick's forwarding headers and response headers (not part of the
  # targets of issue 7, which compare against them as configured above; this shows what that header work costs).
  for t in $(rotated $((round - 1)) sidekick nginx-hdr haproxy-hdr); do run_wrk small-keepalive-same-headers "$t" "$round" 64 /small; done
  for t in $plain; do run_wrk new-connection "$t" "$round" 16 /small -H "Connection: close"; done
  for t in $plain; do run_wrk get-1MiB "$t" "$round" 8 /1m; done
  for t in $plain; do run_wrk post-1MiB "$t" "$round" 8 /upload -s "$W/post.lua"; done
  for t in $plain; do run_wrk low-load-4c "$t" "$round" 4 /small; done
  for t in $plain; do run_wrk fixed-rate-4k "$t" "$round" 32 /small -s "$W/rate.lua"; done
  for t in $tls; do run_wrk tls-small-keepalive "$t" "$round" 64 /small; done
  for t in $tls; do run_wrk tls-get-1MiB "$t" "$round" 8 /1m; done
  for t in $tls; do run_wrk tls-post-1MiB "$t" "$round" 8 /upload -s "$W/post.lua"; done
done

sleep 12
for t in sidekick nginx haproxy; do echo -e "$t\t${REST_START[$t]}\t$(rss_kb "$t")" >> "$REST"; done

# 100 MiB up and down: peak RSS growth of each proxy while one stream passes.
BIG=$W/big.tsv; echo -e "target\tdirection\trss_before_kb\trss_peak_kb\tseconds" > "$BIG"
for t in sidekick nginx haproxy; do
  port=$(port_of "$t")
  for dir in down up; do
    before=$(rss_kb "$t"); peak=$before; start=$(date +%s.%N)
    if [[ $dir == down ]]; then curl -fsS -o /dev/null "http://127.0.0.1:$port/100m" & else curl -fsS -o /dev/null --data-binary @"$W/www/100m" "http://127.0.0.1:$port/upload" & fi
    cp=$!; while kill -0 $cp 2>/dev/null; do r=$(rss_kb "$t"); (( r > peak )) && peak=$r; sleep 0.05; done; wait $cp
    echo -e "$t\t$dir\t$before\t$peak\t$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN{printf "%.2f", e-s}')" >> "$BIG"
  done
done

# 10,000 idle client connections: RSS per connection, from the proxies at rest (sidekick has given back what the
# 100 MiB streams made it keep, so the figure is what the connections cost, not room left in a grown heap).
sleep 12
IDLE=$W/idle.tsv; echo -e "target\tconnections\trss_before_kb\trss_after_kb" > "$IDLE"
for t in sidekick nginx haproxy; do
  port=$(port_of "$t"); before=$(rss_kb "$t")
  python3 - "$port" "$W/idle-$t" "$IDLE_CONNS" <<'PY' &
import socket, sys, time, os
port, marker, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
socks = []
for i in range(count):
    s = socket.socket(); s.connect(("127.0.0.1", port)); socks.append(s)
open(marker, "w").close()
time.sleep(4)
PY
  ip=$!; for i in $(seq 1 200); do [[ -f $W/idle-$t ]] && break; sleep 0.1; done; sleep 2
  after=$(rss_kb "$t"); wait $ip || true
  echo -e "$t\t$IDLE_CONNS\t$before\t$after" >> "$IDLE"
done

dotnet run -c Release --project bench/Chart -- "$RESULTS" docs/benchmarks.png
touch "$W/errors.txt"
python3 bench/report.py "$RESULTS" "$BIG" "$IDLE" "$DURATION" "$ROUNDS" "$W/errors.txt" "$REST" | tee docs/benchmarks.md
cp "$RESULTS" "$BIG" "$IDLE" "$REST" artifacts/ 2>/dev/null || true
