#!/usr/bin/env bash
# One entry point for every job: build, test, publish, demo, bench.
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

usage() {
  cat <<'USAGE'
usage: ./build.sh VERB [ARGS]

verbs:
  build     restore and build everything (Debug)
  test      build and run every test; last line is "N passed, N failed"; non-zero exit on any failure
  publish   Native AOT linux-x64 release binary in artifacts/publish/sidekick
  demo      three sample backends behind sidekick: balancing, failover and failback (--once to end after the script)
  bench     micro benchmarks and the comparison with nginx and haproxy
USAGE
}

verb_build() { dotnet build Sidekick.sln -c Debug -nologo "$@"; }

# Tools the tests drive: curl and openssl s_client (TLS tests), promtool from Debian's prometheus package
# (the /.prometheus/metrics test). Installed when missing, so CI on a fresh machine has them.
ensure_tools() {
  local missing=()
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
  if [[ ${#missing[@]} -gt 0 ]] && command -v apt-get >/dev/null 2>&1; then
    local sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
    echo "installing: ${missing[*]}"
    { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >/dev/null \
      || echo "warning: could not install ${missing[*]}; tests that need them will fail" >&2
  fi
}

verb_test() {
  ensure_tools
  local results=artifacts/test-results
  rm -rf "$results"; mkdir -p "$results"
  local rc=0
  dotnet build Sidekick.sln -c Debug -nologo -v quiet || { echo "build failed"; echo "0 passed, 1 failed"; return 1; }
  dotnet test Sidekick.Tests/Sidekick.Tests.csproj -c Debug --no-build -nologo \
    --logger "trx;LogFileName=results.trx" --logger "console;verbosity=normal" \
    --results-directory "$results" --blame-hang-timeout 5m "$@" || rc=$?
  local trx passed=0 failed=0
  trx=$(find "$results" -name '*.trx' | head -n 1)
  if [[ -n "$trx" ]]; then
    local counters
    counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
    passed=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")
    failed=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
    local errors timeouts aborted
    errors=$(sed -n 's/.* error="\([0-9]*\)".*/\1/p' <<<"$counters")
    timeouts=$(sed -n 's/.* timeout="\([0-9]*\)".*/\1/p' <<<"$counters")
    aborted=$(sed -n 's/.* aborted="\([0-9]*\)".*/\1/p' <<<"$counters")
    failed=$(( ${failed:-0} + ${errors:-0} + ${timeouts:-0} + ${aborted:-0} ))
    passed=${passed:-0}
  fi
  if [[ $rc -ne 0 && $failed -eq 0 ]]; then failed=1; fi
  if [[ $passed -eq 0 && $failed -eq 0 ]]; then echo "no test ran"; failed=1; fi
  echo "$passed passed, $failed failed"
  [[ $failed -eq 0 ]]
}

verb_publish() {
  local out=artifacts/publish
  dotnet publish Sidekick.Cli/Sidekick.Cli.csproj -c Release -r linux-x64 --self-contained true -o "$out" -nologo "$@"
  echo "published: $out/sidekick"
}

verb_demo() {
  dotnet run --project Sidekick.Demo/Sidekick.Demo.csproj -c Release -- "$@"
}

verb_bench() {
  bash bench/run.sh "$@"
}

verb="${1:-}"
[[ $# -gt 0 ]] && shift
case "$verb" in
  build) verb_build "$@" ;;
  test) verb_test "$@" ;;
  publish) verb_publish "$@" ;;
  demo) verb_demo "$@" ;;
  bench) verb_bench "$@" ;;
  ""|-h|--help|help) usage ;;
  *) echo "unknown verb: $verb" >&2; usage >&2; exit 2 ;;
esac
