<#
.SYNOPSIS
    How long the agent takes to stop a static pod whose manifest is removed (a benchmark, not a test).
.DESCRIPTION
    On a private containerd, $Pods pods one after another: manifest deleted → the pod's sandbox gone from the runtime,
    for a container that exits on SIGTERM (the agent's own cost) and for one that ignores it (its 3 s grace period,
    then the kill). PodSyncTests checks the behaviour; this prints the durations with the load average beside them.
#>
param([string] $ModulePath, [int] $Pods = 5)
# Published by ./build.ps1 Benchmark: the engine precompiled (ReadyToRun) as the module ships it.
$bench = Join-Path $PSScriptRoot '../../out/benchmarks/KubeletPS.Benchmarks.dll'
if (-not (Test-Path $bench)) { throw "$bench not found: run ./build.ps1 Benchmark (it publishes the benchmark program)" }
& dotnet $bench pod-removal --pods $Pods
if ($LASTEXITCODE -ne 0) { throw "pod-removal benchmark failed ($LASTEXITCODE)" }
