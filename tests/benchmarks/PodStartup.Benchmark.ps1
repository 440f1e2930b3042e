<#
.SYNOPSIS
    Pod startup latency of the agent against direct CRI calls, 30 pods (a benchmark, not a test).
.DESCRIPTION
    1. direct-cri --parallel: the 30 sandboxes and containers started with CRI calls alone (the runtime's own time);
    2. agent: 30 static pod manifests written at once; per pod, manifest written → all containers running;
    each on its own private containerd. Prints p50/p99/total of both and the agent's working set with 30 pods.
#>
param([string] $ModulePath, [int] $Pods = 30)
$bench = Join-Path $PSScriptRoot '../KubeletPS.Benchmarks/bin/Release/net10.0/KubeletPS.Benchmarks.dll'
Write-Host "-- direct CRI, $Pods pods in parallel"
& dotnet $bench direct-cri --pods $Pods --parallel $Pods
Write-Host "-- agent, $Pods static pods"
& dotnet $bench agent --pods $Pods
