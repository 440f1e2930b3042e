<#
.SYNOPSIS
    The kubelet server's cost (a benchmark, not a test), in one run: kubectl logs of 10 MiB beside the same read straight
    from the log file; 20 concurrent kubectl exec round trips beside 20 CRI ExecSync calls; the agent's idle CPU with its
    server up beside the same agent with enableServer: false.
.DESCRIPTION
    Runs `KubeletPS.Benchmarks kubelet-server` (published by ./build.ps1 Benchmark): the agent (KubeletAgent) in the
    benchmark process, so that process's CPU is the agent's; the test API server as its own process; a private containerd;
    two pods. Each figure is printed with the load average (the machine may be shared).
#>
param([string] $ModulePath, [int] $LogMiB = 10, [int] $Concurrency = 20, [int] $Rounds = 3, [int] $IdleSeconds = 30, [int] $IdleRounds = 2)
$ErrorActionPreference = 'Stop'
$bench = Join-Path $PSScriptRoot '../../out/benchmarks/KubeletPS.Benchmarks.dll'
if (-not (Test-Path $bench)) { throw "$bench not found: run ./build.ps1 Benchmark (it publishes the benchmark program)" }
$cluster = Join-Path $PSScriptRoot '../KubeletPS.TestCluster/bin/Release/net10.0/KubeletPS.TestCluster.dll'
if (-not (Test-Path $cluster)) { throw "$cluster not found: build tests/KubeletPS.TestCluster -c Release" }
& dotnet $bench kubelet-server --test-cluster $cluster --log-mib $LogMiB --concurrency $Concurrency --rounds $Rounds --idle-seconds $IdleSeconds --idle-rounds $IdleRounds
if ($LASTEXITCODE -ne 0) { throw "KubeletPS.Benchmarks kubelet-server exited $LASTEXITCODE" }
