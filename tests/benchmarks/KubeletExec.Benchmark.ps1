<#
.SYNOPSIS
    20 concurrent `kubectl exec POD -- true` through the test API server and the agent's kubelet server, beside the
    same 20 straight through CRI ExecSync (a benchmark, not a test).
.DESCRIPTION
    kubectl-exec: the agent (KubeletAgent, its kubelet server on a free port) in the benchmark process, the test API
    server as its own process, a private containerd; a pod bound to the node; then per round N kubectl exec round
    trips at once (each: a WebSocket attempt the runtime refuses, then SPDY; through API server, kubelet proxy and
    containerd's streaming server) and N CRI ExecSync calls at once. Prints wall time, the benchmark process's CPU
    (the agent) per batch, their ratios, and the load average.
#>
param([string] $ModulePath, [int] $Concurrency = 20, [int] $Rounds = 3)
$bench = Join-Path $PSScriptRoot '../../out/benchmarks/KubeletPS.Benchmarks.dll'
if (-not (Test-Path $bench)) { throw "$bench not found: run ./build.ps1 Benchmark (it publishes the benchmark program)" }
$cluster = Join-Path $PSScriptRoot '../KubeletPS.TestCluster/bin/Release/net10.0/KubeletPS.TestCluster.dll'
if (-not (Test-Path $cluster)) { throw "$cluster not found: build tests/KubeletPS.TestCluster -c Release" }
& dotnet $bench kubectl-exec --test-cluster $cluster --concurrency $Concurrency --rounds $Rounds
