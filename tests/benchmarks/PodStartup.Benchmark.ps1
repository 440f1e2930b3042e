<#
.SYNOPSIS
    Pod startup latency of the agent against direct CRI calls, 30 pods (a benchmark, not a test).
.DESCRIPTION
    All pods are asked for at once and each pod's latency runs from that moment to its container running.
    1. direct-cri: the 30 sandboxes and containers started with CRI calls alone (the runtime's own time),
       all 30 at once and 4 at a time (the agent's default on this machine: twice the cores, at least 4);
    2. agent: 30 static pod manifests written at once; per pod, manifest written → all containers running.
    Each on its own private containerd, alternating $Rounds times. Prints p50/p99 of each, the agent's
    working set with 30 pods and its CRI calls, and the agent's p50 over the best direct schedule's.
#>
param([string] $ModulePath, [int] $Pods = 30, [int] $Rounds = 2, [int] $Parallel = [Math]::Max(4, 2 * [Environment]::ProcessorCount))
$bench = Join-Path $PSScriptRoot '../KubeletPS.Benchmarks/bin/Release/net10.0/KubeletPS.Benchmarks.dll'
$p50 = @{ direct = @(); agent = @() }
foreach ($round in 1..$Rounds) {
    foreach ($parallel in @($Pods, $Parallel)) {
        Write-Host "-- round $round, direct CRI, $Pods pods, $parallel at a time"
        $out = & dotnet $bench direct-cri --pods $Pods --parallel $parallel
        $out | Write-Host
        if (($out -join "`n") -match 'at once: p50 (\d+) ms') { $p50.direct += [int]$Matches[1] }
    }
    Write-Host "-- round $round, agent, $Pods static pods"
    $out = & dotnet $bench agent --pods $Pods --max-parallel $Parallel
    $out | Write-Host
    if (($out -join "`n") -match 'running: total \d+ ms, p50 (\d+) ms') { $p50.agent += [int]$Matches[1] }
}
if ($p50.direct.Count -and $p50.agent.Count) {
    $best = ($p50.direct | Measure-Object -Minimum).Minimum
    $agent = ($p50.agent | Measure-Object -Minimum).Minimum
    Write-Host ("agent p50 {0} ms (best of {1}) vs the best direct CRI p50 {2} ms: {3:+0;-0}%" -f $agent, $p50.agent.Count, $best, (100.0 * $agent / $best - 100))
}
