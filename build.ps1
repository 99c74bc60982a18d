# One entry point for every job on Windows: the same verbs as build.sh.
param([Parameter(Position = 0)][string]$Verb = "", [Parameter(ValueFromRemainingArguments = $true)][string[]]$Rest)
$ErrorActionPreference = "Stop"
Set-Location $PSScriptRoot
$env:DOTNET_CLI_TELEMETRY_OPTOUT = "1"; $env:DOTNET_NOLOGO = "1"

function Show-Usage {
@"
usage: ./build.ps1 VERB [ARGS]

verbs:
  build     restore and build everything (Debug)
  test      build and run every test; last line is "N passed, N failed"; non-zero exit on any failure
  publish   self-contained release binary in artifacts/publish
  demo      three sample backends behind sidekick: balancing, failover and failback (--once to end after the script)
  bench     micro benchmarks (the nginx/haproxy comparison needs Linux: use build.sh)
"@
}

switch ($Verb) {
  "build" { dotnet build Sidekick.sln -c Debug -nologo @Rest; exit $LASTEXITCODE }
  "test" {
    $results = "artifacts/test-results"
    if (Test-Path $results) { Remove-Item -Recurse -Force $results }
    dotnet build Sidekick.sln -c Debug -nologo -v quiet
    if ($LASTEXITCODE -ne 0) { "build failed"; "0 passed, 1 failed"; exit 1 }
    dotnet test Sidekick.Tests/Sidekick.Tests.csproj -c Debug --no-build -nologo --logger "trx;LogFileName=results.trx" --logger "console;verbosity=normal" --results-directory $results --blame-hang-timeout 5m @Rest
    $rc = $LASTEXITCODE
    $passed = 0; $failed = 0
    $trx = Get-ChildItem -Recurse -Filter *.trx $results | Select-Object -First 1
    if ($trx) {
      [xml]$x = Get-Content $trx.FullName
      $c = $x.TestRun.ResultSummary.Counters
      $passed = [int]$c.passed; $failed = [int]$c.failed + [int]$c.error + [int]$c.timeout + [int]$c.aborted
    }
    if ($rc -ne 0 -and $failed -eq 0) { $failed = 1 }
    if ($passed -eq 0 -and $failed -eq 0) { "no test ran"; $failed = 1 }
    "$passed passed, $failed failed"
    if ($failed -ne 0) { exit 1 } else { exit 0 }
  }
  "publish" {
    $rid = if ($IsWindows) { "win-x64" } elseif ($IsMacOS) { "osx-x64" } else { "linux-x64" }
    dotnet publish Sidekick.Cli/Sidekick.Cli.csproj -c Release -r $rid --self-contained true -o artifacts/publish -nologo @Rest
    exit $LASTEXITCODE
  }
  "demo" { dotnet run --project Sidekick.Demo/Sidekick.Demo.csproj -c Release -- @Rest; exit $LASTEXITCODE }
  "bench" { dotnet run --project Sidekick.Benchmarks -c Release -- --filter '*' @Rest; exit $LASTEXITCODE }
  default { Show-Usage }
}
