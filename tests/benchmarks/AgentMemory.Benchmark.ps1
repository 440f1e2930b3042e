<#
.SYNOPSIS
    Where the memory of the whole agent goes: Start-KubeletAgent in pwsh with 20 API pods (a benchmark, not a test).
.DESCRIPTION
    The test API server and a private containerd as their own processes; for each run a new pwsh
    (support/AgentMemoryHost.ps1) imports the module and runs Start-KubeletAgent in a thread job of that same
    process, $Pods pods bound to its node are created with kubectl, and once they are Running the process
    reports its memory: resident set split by mapping (anonymous memory, the .NET runtime, assemblies, native
    libraries), the GC heap (size, committed, fragmentation) and the GC's mode. A run marked NoAgent is a
    baseline: the same pwsh with the module imported and one cmdlet called, no agent. The other runs repeat
    the agent with one .NET runtime setting each, to see what each saves. Prints one line per run and a
    table; every figure beside the load average at the time.
#>
param([string] $ModulePath, [int] $Pods = 20,
    [hashtable[]] $Variants = @(
        @{ Name = 'pwsh + module, no agent (baseline)'; NoAgent = $true },
        @{ Name = 'pwsh + module, no agent, DOTNET_GCgen0size=0x400000'; NoAgent = $true; DOTNET_GCgen0size = '0x400000' },
        @{ Name = 'agent, the three CPU settings only (before)' },
        @{ Name = 'agent, service unit settings (+ DOTNET_GCgen0size=0x400000)'; DOTNET_GCgen0size = '0x400000' },
        @{ Name = 'agent, DOTNET_gcConcurrent=0'; DOTNET_gcConcurrent = '0' },
        @{ Name = 'agent, DOTNET_GCConserveMemory=7'; DOTNET_GCConserveMemory = '7' },
        @{ Name = 'agent, DOTNET_GCgen0size=0x400000, DOTNET_TieredCompilation=0'; DOTNET_GCgen0size = '0x400000'; DOTNET_TieredCompilation = '0' },
        @{ Name = 'agent, DOTNET_GCgen0size=0x400000, DOTNET_EnableWriteXorExecute=0'; DOTNET_GCgen0size = '0x400000'; DOTNET_EnableWriteXorExecute = '0' }
    ))
$ErrorActionPreference = 'Stop'
$repo = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
if (-not $ModulePath) { $ModulePath = Join-Path $repo 'out/KubeletPS/KubeletPS.psd1' }
if (-not (Test-Path $ModulePath)) { throw "$ModulePath not found: run ./build.ps1 Build" }
$env:KUBELETPS_MODULE = (Resolve-Path $ModulePath).Path
$env:KUBELETPS_REPO = $repo
Import-Module (Join-Path $repo 'tests/Pester/TestSupport.psm1') -Force
# The service unit's three CPU settings (Install-KubeletService); its fourth, DOTNET_GCgen0size, is one of the variants.
$env:DOTNET_TieredPGO = '0'
$env:DOTNET_TC_CallCountingDelayMs = '5000'
$env:DOTNET_ThreadPool_UnfairSemaphoreSpinLimit = '0'

$base = Join-Path '/tmp' ('kpmem-' + [guid]::NewGuid().ToString('N').Substring(0, 6))
$nodes = 1..$Variants.Count | ForEach-Object { "mem$_" }
$cluster = Start-TestCluster -Directory (Join-Path $base 'cluster') -Node $nodes
$containerd = Start-TestContainerd -Directory (Join-Path $base 'ctd')
$admin = Join-Path $cluster.Directory 'admin.conf'
$hostScript = Join-Path $PSScriptRoot 'support/AgentMemoryHost.ps1'
# This pwsh again (a dotnet tool runs as dotnet pwsh.dll).
$pwsh = if ([IO.Path]::GetFileName([Environment]::ProcessPath) -eq 'dotnet') { @([Environment]::ProcessPath, (Join-Path $PSHOME 'pwsh.dll')) } else { @([Environment]::ProcessPath) }
function Get-Load { (Get-Content /proc/loadavg).Split(' ')[0..2] -join ' / ' }

function Measure-Process([string] $Name, [string] $Node, [hashtable] $Environment, [switch] $NoAgent) {
    $dir = Join-Path $base $Node
    $null = New-Item -ItemType Directory -Force $dir
    $ready = Join-Path $dir 'ready'; $out = Join-Path $dir 'memory.json'
    $agentParameters = @{
        KubeconfigPath = Join-Path $cluster.Directory "node-$Node.conf"; NodeName = $Node; RuntimeEndpoint = $containerd.Endpoint
        RootDirectory = Join-Path $dir 'root'; PodLogDirectory = $containerd.PodLogDirectory; StaticPodPath = ''; NodeIp = '10.9.9.9'
        Port = 0; HealthzPort = -1; StopPodsOnExit = $true
    }
    $saved = @{}
    foreach ($key in $Environment.Keys | Where-Object { $_ -like 'DOTNET_*' }) { $saved[$key] = [Environment]::GetEnvironmentVariable($key); [Environment]::SetEnvironmentVariable($key, $Environment[$key]) }
    try {
        $argumentsFile = Join-Path $dir 'arguments.json'
        @{ ModulePath = $env:KUBELETPS_MODULE; AgentParameters = $agentParameters; ReadyFile = $ready; OutFile = $out; NoAgent = [bool]$NoAgent } | ConvertTo-Json -Depth 3 | Set-Content $argumentsFile
        # A new pwsh process, the measured one, with this run's runtime settings in its environment.
        $process = Start-Process $pwsh[0] -ArgumentList ($pwsh[1..9] + @('-NoProfile', '-NonInteractive', '-File', $hostScript, '-ArgumentsFile', $argumentsFile)) `
            -RedirectStandardOutput (Join-Path $dir 'host.log') -RedirectStandardError (Join-Path $dir 'host.err') -PassThru
    }
    finally { foreach ($key in $saved.Keys) { [Environment]::SetEnvironmentVariable($key, $saved[$key]) } }
    try {
        if (-not $NoAgent) {
            Wait-Until { (& kubectl --kubeconfig $admin get node $Node -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>$null) -eq 'True' } "$Node is Ready" 180
            $yaml = foreach ($i in 1..$Pods) {
                "apiVersion: v1`nkind: Pod`nmetadata:`n  name: $Node-p$i`nspec:`n  nodeName: $Node`n  terminationGracePeriodSeconds: 2`n  containers:`n  - name: main`n    image: kubeletps.local/busybox:latest`n    imagePullPolicy: IfNotPresent`n    command: [sleep, '3600']`n---"
            }
            $yaml -join "`n" | & kubectl --kubeconfig $admin create -f - | Out-Null
            Wait-Until { @((& kubectl --kubeconfig $admin get pods -o json | ConvertFrom-Json).items | Where-Object { $_.spec.nodeName -eq $Node -and $_.status.phase -eq 'Running' }).Count -eq $Pods } "$Pods pods Running on $Node" 300
            # Steady state: the pods' first status reports, events and probes done.
            Start-Sleep -Seconds 15
        }
        else { Start-Sleep -Seconds 5 }
        $load = Get-Load
        Set-Content $ready 'go'
        if (-not $process.WaitForExit(120000)) { $process | Stop-Process -Force }
        if (-not (Test-Path $out)) { throw "$Name wrote no report: $(Get-Content -Raw (Join-Path $dir 'host.log') -ErrorAction Ignore) $(Get-Content -Raw (Join-Path $dir 'host.err') -ErrorAction Ignore)" }
        $report = Get-Content -Raw $out | ConvertFrom-Json -AsHashtable
        $report['Name'] = $Name; $report['Load'] = $load
        $report
    }
    finally {
        if ($process -and -not $process.HasExited) { $process | Stop-Process -Force }
        if (-not $NoAgent) { & kubectl --kubeconfig $admin delete pods --all --force --grace-period=0 --wait=false 2>$null | Out-Null }
    }
}

$MiB = { param($kib) '{0:F1}' -f ($kib / 1024.0) }
$results = @()
try {
    for ($i = 0; $i -lt $Variants.Count; $i++) { $results += Measure-Process $Variants[$i].Name $nodes[$i] $Variants[$i] -NoAgent:([bool]$Variants[$i].NoAgent) }
}
finally {
    Stop-TestCluster $cluster
    Stop-TestContainerd -Containerd $containerd
    Remove-Item -Recurse -Force $base -ErrorAction Ignore
}
foreach ($r in $results) {
    Write-Host ("== {0} (load average {1}): RSS {2} MiB (anonymous {3}, file-backed {4}), {5} threads, {6} assemblies ({7} ASP.NET Core), {8} methods JIT-compiled" -f $r.Name, $r.Load,
        (& $MiB $r.VmRssKiB), (& $MiB $r.RssAnonKiB), (& $MiB $r.RssFileKiB), $r.Threads, $r.Assemblies, $r.AssembliesAspNetCore, $r.JitMethods)
    Write-Host ("   GC: {0}, latency mode {1} (Interactive: background GC on); heap {2:F1} MiB, committed {3:F1} MiB, fragmented {4:F1} MiB, {5} gen0 collections" -f $(if ($r.Gc.Server) { 'server' } else { 'workstation' }),
        $r.Gc.LatencyMode, ($r.Gc.HeapSizeBytes / 1MB), ($r.Gc.CommittedBytes / 1MB), ($r.Gc.FragmentedBytes / 1MB), $r.Gc.GcCount)
    foreach ($g in $r.Mappings.GetEnumerator() | Sort-Object { $_.Value.RssKiB } -Descending) {
        Write-Host ("   {0,-55} {1,7} MiB resident ({2} private, {3} mappings)" -f $g.Key, (& $MiB $g.Value.RssKiB), (& $MiB $g.Value.PrivateKiB), $g.Value.Mappings)
    }
}
$baseline = $results | Where-Object { -not $_.Agent } | Select-Object -First 1
$results | ForEach-Object {
    [pscustomobject]@{ Run = $_.Name; 'RSS MiB' = & $MiB $_.VmRssKiB; 'over baseline' = & $MiB ($_.VmRssKiB - $baseline.VmRssKiB); 'GC committed MiB' = '{0:F1}' -f ($_.Gc.CommittedBytes / 1MB); 'GC heap MiB' = '{0:F1}' -f ($_.Gc.HeapSizeBytes / 1MB); Load = $_.Load }
} | Format-Table -AutoSize | Out-String -Width 250 | Write-Host
