<#
.SYNOPSIS
    The process AgentMemory.Benchmark.ps1 measures: a pwsh with KubeletPS imported and, unless -NoAgent,
    Start-KubeletAgent running in a thread job of this same process (as `Start-KubeletAgent` runs in a pwsh).
.DESCRIPTION
    Waits for -ReadyFile to appear (the driver writes it once the pods are Running), then writes the memory
    breakdown of this process to -OutFile as JSON: resident set (VmRSS, smaps_rollup), the mappings grouped by
    what they hold (anonymous memory — the GC heap, native allocations, thread stacks —, managed assemblies,
    native libraries, other files), the GC's own view (GC.GetGCMemoryInfo) and its settings, and the assemblies
    loaded. -NoAgent: the baseline, the module imported and one cmdlet called (the engine loaded), no agent.
#>
param([Parameter(Mandatory)][string] $ArgumentsFile, [int] $TimeoutSec = 600)
$ErrorActionPreference = 'Stop'
# ModulePath, AgentParameters, ReadyFile, OutFile, NoAgent: written by the driver.
$arguments = Get-Content -Raw $ArgumentsFile | ConvertFrom-Json -AsHashtable
$ModulePath = $arguments.ModulePath; $AgentParameters = $arguments.AgentParameters; $ReadyFile = $arguments.ReadyFile; $OutFile = $arguments.OutFile; $NoAgent = $arguments.NoAgent
Import-Module $ModulePath
# One cmdlet call loads the engine and its dependencies (it fails here: no /var/lib/kubelet/config.yaml; the engine has been loaded by then).
if ($NoAgent) { try { $null = Get-KubeletConfig } catch { Write-Verbose "$_" } }
else {
    $job = Start-ThreadJob -ArgumentList $ModulePath, $AgentParameters -ScriptBlock {
        param($module, $parameters)
        Import-Module $module
        Start-KubeletAgent @parameters -Confirm:$false
    }
}
$deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSec)
while (-not (Test-Path $ReadyFile) -and [DateTime]::UtcNow -lt $deadline) {
    if ($job -and $job.State -in 'Failed', 'Completed') { throw "Start-KubeletAgent ended: $($job | Receive-Job 2>&1 | Out-String)" }
    Start-Sleep -Milliseconds 200
}
# The heap as it settles between bursts of work: a full blocking collection first (as the GC does when idle).
[GC]::Collect(2, [GCCollectionMode]::Forced, $true, $true)
[GC]::WaitForPendingFinalizers()
Start-Sleep -Seconds 1

function Get-KiB([string] $Text, [string] $Field) { $m = [regex]::Match($Text, "(?m)^$([regex]::Escape($Field)):\s+(\d+) kB"); if ($m.Success) { [long]$m.Groups[1].Value } else { 0 } }
$status = Get-Content -Raw /proc/self/status
$rollup = Get-Content -Raw /proc/self/smaps_rollup
# /proc/self/smaps: one block per mapping, a header line (address perms offset dev inode [path]) then fields.
$groups = @{}
$current = $null
foreach ($line in [IO.File]::ReadLines('/proc/self/smaps')) {
    if ($line -match '^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$') {
        $path = $Matches[1].Trim()
        $current = switch -Regex ($path) {
            '^$' { 'anonymous (GC heap, native heap, stacks)'; break }
            '^\[heap\]$' { 'native heap ([heap])'; break }
            '^\[(stack|vdso|vvar|vsyscall).*\]$' { 'stack and kernel'; break }
            '^\[anon:.*\]$' { 'anonymous (GC heap, native heap, stacks)'; break }
            '/usr/share/dotnet/shared/Microsoft\.NETCore\.App/.*\.so$|libcoreclr|libclrjit|libSystem\.' { '.NET runtime native (libcoreclr, clrjit, System.*.so)'; break }
            '/usr/share/dotnet/shared/Microsoft\.NETCore\.App/.*\.dll$' { 'Microsoft.NETCore.App assemblies'; break }
            '/usr/share/dotnet/shared/Microsoft\.AspNetCore\.App/' { 'Microsoft.AspNetCore.App assemblies'; break }
            '[Pp]ower[Ss]hell|pwsh|/\.store/powershell|Microsoft\.PowerShell|System\.Management\.Automation' { 'PowerShell assemblies'; break }
            'KubeletPS' { 'KubeletPS module (engine, dependencies)'; break }
            '\.dll$' { 'other assemblies'; break }
            '\.so(\.\d+)*$' { 'other native libraries (libc, libssl, libicu…)'; break }
            'memfd:doublemapper' { 'JIT code (doublemapped)'; break }
            default { 'other mapped files' }
        }
        if (-not $groups.ContainsKey($current)) { $groups[$current] = [ordered]@{ RssKiB = 0L; PrivateKiB = 0L; Mappings = 0 } }
        $groups[$current].Mappings++
    }
    elseif ($current -and $line -match '^(Rss|Private_Clean|Private_Dirty):\s+(\d+) kB') {
        if ($Matches[1] -eq 'Rss') { $groups[$current].RssKiB += [long]$Matches[2] } else { $groups[$current].PrivateKiB += [long]$Matches[2] }
    }
}
$gc = [GC]::GetGCMemoryInfo([GCKind]::Any)
$environment = @{}
Get-ChildItem env: | Where-Object Name -like 'DOTNET_*' | ForEach-Object { $environment[$_.Name] = $_.Value }
$assemblies = [AppDomain]::CurrentDomain.GetAssemblies()
$report = [ordered]@{
    Agent = -not $NoAgent
    VmRssKiB = Get-KiB $status 'VmRSS'
    RssAnonKiB = Get-KiB $status 'RssAnon'
    RssFileKiB = Get-KiB $status 'RssFile'
    PssKiB = Get-KiB $rollup 'Pss'
    Threads = [int][regex]::Match($status, '(?m)^Threads:\s+(\d+)').Groups[1].Value
    Mappings = $groups
    Gc = [ordered]@{
        Server = [Runtime.GCSettings]::IsServerGC; LatencyMode = "$([Runtime.GCSettings]::LatencyMode)"; Environment = $environment
        HeapSizeBytes = $gc.HeapSizeBytes; CommittedBytes = $gc.TotalCommittedBytes; FragmentedBytes = $gc.FragmentedBytes
        TotalAllocatedBytes = [GC]::GetTotalAllocatedBytes($false); GcCount = [GC]::CollectionCount(0); Generations = @($gc.GenerationInfo | ForEach-Object { $_.SizeAfterBytes })
    }
    Assemblies = $assemblies.Count
    AssembliesKubeletPS = @($assemblies | Where-Object { $_.GetName().Name -like 'KubeletPS*' -or $_.GetName().Name -in 'KubernetesClient', 'YamlDotNet', 'BouncyCastle.Cryptography' }).Count
    AssembliesAspNetCore = @($assemblies | Where-Object { $_.GetName().Name -like 'Microsoft.AspNetCore*' }).Count
    JitMethods = [Runtime.JitInfo]::GetCompiledMethodCount($false)
}
$report | ConvertTo-Json -Depth 5 | Set-Content $OutFile
if ($job) { $job | Stop-Job; $job | Remove-Job -Force }
