<#
.SYNOPSIS
    Pod startup latency of the agent against direct CRI calls, 30 pods (a benchmark, not a test).
.DESCRIPTION
    All pods are asked for at once and each pod's latency runs from that moment to its container running.
    Each round, each on its own private containerd:
    1. direct-cri: the 30 sandboxes and containers started with CRI calls alone (the runtime's own time),
       all 30 at once and $Parallel at a time (the agent's default here: twice the cores, at least 4);
    2. agent, cold: 30 static pod manifests written into the folder of an agent that has just started;
    3. agent, warm: the same after the agent has started and removed $Warmup pods (its code compiled,
       as in a kubelet that has been running a while).
    Per pod: manifest written → container started (StartContainer returned: the agent's Started event,
    the direct calls' return). Prints each run, then the medians over $Rounds
    rounds and the agent's p50 over the best direct schedule's, and each round's ratio over that round's own best
    direct schedule (runs next to each other in time: the machine's drift between rounds cancels) with their
    median. The benchmark program is the one ./build.ps1 Benchmark publishes: the engine precompiled
    (ReadyToRun) as the module ships it.

    A third agent run, warm, is traced (every CRI call the agent makes, timed by pod; the proxy costs time of its
    own, so this run is not one of the ratios) and, once the agent has stopped,
    its own sandbox and container requests are sent again by direct calls $Parallel at a time on the same
    runtime, then the minimal requests direct-cri sends: "direct CRI, the agent's requests" is the runtime's
    time for what the agent asks of it, without the agent.

    -Volumes gives every pod an emptyDir mounted whole and through a subPath, and a downwardAPI
    volume. -Cgroups has the agent create the QoS and pod cgroups (cgroupfs, /kubepods) as the shipped
    agent does from its configuration (the baseline program must know --cgroups too). -Baseline names another published KubeletPS.Benchmarks.dll (e.g. built from an earlier
    commit): its agent runs alternate with this build's in the same rounds, so a change's cost is
    measured in one run on the same machine state.
#>
param([string] $ModulePath, [int] $Pods = 30, [int] $Rounds = 3, [int] $Warmup = 8,
    [int] $Parallel = [Math]::Max(4, 2 * [Environment]::ProcessorCount),
    [switch] $Volumes, [switch] $Cgroups, [string] $Baseline)
# Published by ./build.ps1 Benchmark: the engine precompiled (ReadyToRun) as the module ships it.
$bench = Join-Path $PSScriptRoot '../../out/benchmarks/KubeletPS.Benchmarks.dll'
if (-not (Test-Path $bench)) { throw "$bench not found: run ./build.ps1 Benchmark (it publishes the benchmark program)" }
# As the agent runs as a service: the unit Install-KubeletService writes sets DOTNET_TieredPGO=0 (less
# JIT work while pods start), DOTNET_TC_CallCountingDelayMs=5000 (hot methods recompiled once the
# agent is quiet) and DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0 (idle thread-pool threads do not
# spin for work); every run here, direct CRI included, gets the same settings.
$env:DOTNET_TieredPGO = '0'
$env:DOTNET_TC_CallCountingDelayMs = '5000'
$env:DOTNET_ThreadPool_UnfairSemaphoreSpinLimit = '0'
# And DOTNET_GCgen0size=0x400000 (a 4 MiB gen0 budget: the GC commits close to the heap; AgentMemory.Benchmark.ps1).
$env:DOTNET_GCgen0size = '0x400000'
$runs = [ordered]@{ "direct CRI, all $Pods at once" = @(); "direct CRI, $Parallel at a time" = @(); 'agent, cold' = @(); 'agent, warm' = @(); 'agent, warm, traced' = @()
    "direct CRI, the agent's requests, $Parallel at a time (replayed after the warm run)" = @() }
if ($Baseline) {
    if (-not (Test-Path $Baseline)) { throw "$Baseline not found" }
    $runs['baseline agent, cold'] = @(); $runs['baseline agent, warm'] = @()
}
$agentArguments = @(if ($Volumes) { '--volumes', 'true' }) + @(if ($Cgroups) { '--cgroups', 'true' })
function Measure-Run([string] $Name, [string[]] $Arguments, [string] $Pattern, [string] $Program = $bench) {
    Write-Host "-- $Name"
    $out = & dotnet $Program @Arguments
    $out | Write-Host
    if (($out -join "`n") -match $Pattern) { $script:runs[$Name] += , @([int]$Matches[1], [int]$Matches[2]) }
    if (($out -join "`n") -match "replay, agent's requests, \d+ at a time: p50 (\d+) ms, last (\d+) ms") {
        $script:runs["direct CRI, the agent's requests, $Parallel at a time (replayed after the warm run)"] += , @([int]$Matches[1], [int]$Matches[2])
    }
}
foreach ($round in 1..$Rounds) {
    Write-Host "== round $round of $Rounds"
    Measure-Run "direct CRI, all $Pods at once" @('direct-cri', '--pods', $Pods, '--parallel', $Pods) 'at once: p50 (\d+) ms, p99 (\d+) ms'
    Measure-Run "direct CRI, $Parallel at a time" @('direct-cri', '--pods', $Pods, '--parallel', $Parallel) 'at once: p50 (\d+) ms, p99 (\d+) ms'
    $agentPattern = 'to container started .*?: total \d+ ms, p50 (\d+) ms, p99 (\d+) ms'
    Measure-Run 'agent, cold' (@('agent', '--pods', $Pods, '--max-parallel', $Parallel) + $agentArguments) $agentPattern
    if ($Baseline) { Measure-Run 'baseline agent, cold' (@('agent', '--pods', $Pods, '--max-parallel', $Parallel) + $agentArguments) $agentPattern $Baseline }
    Measure-Run 'agent, warm' (@('agent', '--pods', $Pods, '--max-parallel', $Parallel, '--warmup', $Warmup) + $agentArguments) $agentPattern
    if ($Baseline) { Measure-Run 'baseline agent, warm' (@('agent', '--pods', $Pods, '--max-parallel', $Parallel, '--warmup', $Warmup) + $agentArguments) $agentPattern $Baseline }
    # The traced run explains the figures (its proxy over the CRI client costs time of its own): not one of the ratios.
    Measure-Run 'agent, warm, traced' (@('agent', '--pods', $Pods, '--max-parallel', $Parallel, '--warmup', $Warmup, '--trace', 'true') + $agentArguments) $agentPattern
}
function Get-Median([int[]] $Values) { $s = $Values | Sort-Object; if ($s.Count -eq 0) { return 0 }; $s[[int][Math]::Floor(($s.Count - 1) / 2)] }
Write-Host "== medians over $Rounds rounds ($Pods pods, all asked for at once)"
$summary = foreach ($name in $runs.Keys) {
    [pscustomobject]@{ Run = $name; Rounds = $runs[$name].Count; P50ms = Get-Median ($runs[$name] | ForEach-Object { $_[0] }); P99ms = Get-Median ($runs[$name] | ForEach-Object { $_[1] }) }
}
$summary | Format-Table -AutoSize | Out-String | Write-Host
if ($Baseline) {
    foreach ($kind in 'cold', 'warm') {
        $new = ($summary | Where-Object Run -eq "agent, $kind").P50ms; $old = ($summary | Where-Object Run -eq "baseline agent, $kind").P50ms
        if ($new -and $old) { Write-Host ("agent, {0}: p50 {1} ms vs the baseline's {2} ms: {3:+0;-0} %" -f $kind, $new, $old, (100.0 * $new / $old - 100)) }
    }
}
# The best direct schedule of direct-cri's own (minimal) requests; the replay of the agent's requests is compared apart.
$direct = $summary | Where-Object Run -like 'direct CRI*' | Where-Object Run -notlike "*agent's requests*" | Where-Object P50ms -gt 0
$best = ($direct | Measure-Object P50ms -Minimum).Minimum
$bestLast = ($direct | Measure-Object P99ms -Minimum).Minimum
$replay = $summary | Where-Object Run -like "*agent's requests*" | Where-Object P50ms -gt 0
foreach ($agent in $summary | Where-Object Run -like '*agent,*' | Where-Object Run -notlike '*traced*') {
    if ($best -and $agent.P50ms) {
        Write-Host ("{0}: p50 {1} ms vs the best direct CRI schedule's {2} ms: {3:+0;-0} % (x{4:F2}); last container {5} ms vs {6} ms: x{7:F2}; load average {8}" -f `
            $agent.Run, $agent.P50ms, $best, (100.0 * $agent.P50ms / $best - 100), ($agent.P50ms / $best), $agent.P99ms, $bestLast, ($agent.P99ms / [Math]::Max(1, $bestLast)), (Get-Content /proc/loadavg).Split(' ')[0])
    }
    if ($replay -and $agent.P50ms) {
        Write-Host ("{0}: p50 x{1:F2}, last x{2:F2} against direct CRI calls with the agent's own requests" -f $agent.Run, ($agent.P50ms / $replay.P50ms), ($agent.P99ms / [Math]::Max(1, $replay.P99ms)))
    }
}
# Each round's agent runs over that round's best direct schedule (the runs next to each other in time, so the machine's
# drift between rounds cancels), and the median of those ratios.
$directParallel = @($runs["direct CRI, $Parallel at a time"])
$directAtOnce = @($runs["direct CRI, all $Pods at once"])
foreach ($name in @($runs.Keys | Where-Object { $_ -like '*agent,*' -and $_ -notlike '*traced*' })) {
    $agentRuns = @($runs[$name])
    $ratios = foreach ($i in 0..($directParallel.Count - 1)) {
        $bestOfRound = ($directParallel[$i][0], $directAtOnce[$i][0] | Measure-Object -Minimum).Minimum
        if ($i -lt $agentRuns.Count -and $bestOfRound -gt 0) { [Math]::Round($agentRuns[$i][0] / $bestOfRound, 2) }
    }
    if ($ratios) {
        $sorted = @($ratios | Sort-Object)
        Write-Host ("{0}: p50 over its round's best direct schedule, by round: {1}; median x{2:F2}" -f $name, (($ratios | ForEach-Object { 'x{0:F2}' -f $_ }) -join ', '), $sorted[[int][Math]::Floor(($sorted.Count - 1) / 2)])
    }
}
