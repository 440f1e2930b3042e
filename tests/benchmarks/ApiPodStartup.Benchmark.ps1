<#
.SYNOPSIS
    Pod startup SLO latency of the whole agent for pods created through the API server (a benchmark, not a test).
.DESCRIPTION
    api-pods: the full kubelet (KubeletAgent) in-process against an in-process test API server and a private
    containerd; after the node is Ready, pods bound to it are created, all at once or at a steady rate; per pod,
    creation → a watch sees phase Running with all containers running. Prints p50/p99/max, the agent's API
    requests per pod, and the process's CPU (% of one core) and working set over a 30 s steady window with the
    pods running. First the runtime's floor (the same pods through direct CRI calls, no agent), then: $Pods at once, $MaxPods at once (kubelet's default maxPods), and $Pods at $Rate per second.
#>
param([string] $ModulePath, [int] $Pods = 50, [int] $MaxPods = 110, [int] $Rate = 2)
# Published by ./build.ps1 Benchmark: the engine precompiled (ReadyToRun) as the module ships it.
$bench = Join-Path $PSScriptRoot '../../out/benchmarks/KubeletPS.Benchmarks.dll'
if (-not (Test-Path $bench)) { throw "$bench not found: run ./build.ps1 Benchmark (it publishes the benchmark program)" }
# The runtime settings of the service unit Install-KubeletService writes (see PodStartup.Benchmark.ps1).
$env:DOTNET_TieredPGO = '0'
$env:DOTNET_TC_CallCountingDelayMs = '5000'
$env:DOTNET_ThreadPool_UnfairSemaphoreSpinLimit = '0'
$env:DOTNET_GCgen0size = '0x400000'
$parallel = [Math]::Max(4, 2 * [Environment]::ProcessorCount)
Write-Host "-- the runtime's own floor: $Pods sandboxes and containers by direct CRI calls, $parallel at a time"
& dotnet $bench direct-cri --pods $Pods --parallel $parallel
Write-Host "-- agent, $Pods API pods created at once"
& dotnet $bench api-pods --pods $Pods
Write-Host "-- agent, $MaxPods API pods created at once"
& dotnet $bench api-pods --pods $MaxPods
Write-Host "-- agent, $Pods API pods created at $Rate per second"
& dotnet $bench api-pods --pods $Pods --rate $Rate
