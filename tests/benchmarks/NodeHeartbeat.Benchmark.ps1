<#
.SYNOPSIS
    Steady-state API requests per minute and memory of Start-KubeletNodeHeartbeat (a benchmark, not a test).
.DESCRIPTION
    Runs the heartbeat in its own pwsh against an in-process test API server for -Seconds after
    registration and prints the requests by verb and resource, per minute, and the process's
    resident memory. Use at least 300 s to include one nodeStatusReportFrequency (5 min) period.
#>
param([string] $ModulePath = (Join-Path $PSScriptRoot '../../out/KubeletPS/KubeletPS.psd1'), [int] $Seconds = 300)
# Published by ./build.ps1 Benchmark: the engine precompiled (ReadyToRun) as the module ships it.
$bench = Join-Path $PSScriptRoot '../../out/benchmarks/KubeletPS.Benchmarks.dll'
if (-not (Test-Path $bench)) { throw "$bench not found: run ./build.ps1 Benchmark (it publishes the benchmark program)" }
& dotnet $bench heartbeat --seconds $Seconds --module (Resolve-Path $ModulePath).Path
