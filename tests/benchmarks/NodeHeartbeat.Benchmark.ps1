<#
.SYNOPSIS
    Steady-state API requests per minute and memory of Start-KubeletNodeHeartbeat (a benchmark, not a test).
.DESCRIPTION
    Runs the heartbeat in its own pwsh against an in-process test API server for -Seconds after
    registration and prints the requests by verb and resource, per minute, and the process's
    resident memory. Use at least 300 s to include one nodeStatusReportFrequency (5 min) period.
#>
param([string] $ModulePath = (Join-Path $PSScriptRoot '../../out/KubeletPS/KubeletPS.psd1'), [int] $Seconds = 300)
$bench = Join-Path $PSScriptRoot '../KubeletPS.Benchmarks/bin/Release/net10.0/KubeletPS.Benchmarks.dll'
& dotnet $bench heartbeat --seconds $Seconds --module (Resolve-Path $ModulePath).Path
