#requires -Version 7.4
<#
.SYNOPSIS
    The main job: this machine joins a cluster as a node and runs the example static pods.
.DESCRIPTION
    Starts a private containerd (own config, root, state and socket, CNI bridge, local busybox and
    pause images) and the test API server (tests/KubeletPS.TestCluster) with a node certificate for
    this host, then, with the built module:
      1. registers the node (Invoke-KubeletNodeRegistration) and shows it (Get-KubeletNode);
      2. keeps its lease and status up to date (Start-KubeletNodeHeartbeat, in a thread job);
      3. starts the example static pods (Start-KubeletPodSync -Once) and shows them (Get-KubeletPod);
      4. keeps syncing them in the foreground until Ctrl+C;
    then stops the pods, containerd and the test API server. Everything lives under -WorkDirectory.
#>
param(
    [Parameter(Mandatory)][string] $ModulePath,
    [string] $WorkDirectory = (Join-Path ([IO.Path]::GetTempPath()) 'kubeletps-main'),
    [string] $StaticPodPath = (Join-Path $PSScriptRoot '../module/examples/static-pods'),
    # Stop after this many seconds instead of waiting for Ctrl+C (used by automation).
    [int] $DurationSec = 0
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0
Import-Module (Join-Path $PSScriptRoot 'Pester/TestSupport.psm1') -Force
$ModulePath = (Resolve-Path $ModulePath).Path
Import-Module $ModulePath -Force

$node = [System.Net.Dns]::GetHostName().ToLowerInvariant()
if (Test-Path $WorkDirectory) { Remove-Item -Recurse -Force $WorkDirectory }
$null = New-Item -ItemType Directory -Force $WorkDirectory
$root = Join-Path $WorkDirectory 'kubelet'
$containerd = $null; $cluster = $null; $heartbeat = $null
try {
    Write-Host "Starting a private containerd in $WorkDirectory/containerd ..."
    $containerd = Start-TestContainerd -Directory (Join-Path $WorkDirectory 'containerd')
    Write-Host "  containerd ready at $($containerd.Endpoint)"
    Write-Host 'Starting the test API server ...'
    $cluster = Start-TestCluster -Directory (Join-Path $WorkDirectory 'cluster') -Node $node
    $kubeconfig = Join-Path $cluster.Directory "node-$node.conf"
    Write-Host "  API server ready at $($cluster.Url); admin kubeconfig $($cluster.Directory)/admin.conf"

    $common = @{ KubeconfigPath = $kubeconfig; NodeName = $node; RuntimeEndpoint = $containerd.Endpoint; RootDirectory = $root }
    Write-Host "`n== Test-KubeletApiConnection -Detailed"
    Test-KubeletApiConnection -KubeconfigPath $kubeconfig -Detailed | Format-Table -AutoSize | Out-Host
    Write-Host "== Invoke-KubeletNodeRegistration"
    Invoke-KubeletNodeRegistration @common -Confirm:$false | Out-Host

    $heartbeat = Start-ThreadJob -ArgumentList $ModulePath, $common -ScriptBlock {
        param($module, $parameters)
        Import-Module $module
        Start-KubeletNodeHeartbeat @parameters -Confirm:$false | Out-Null
    }

    $podSync = @{ StaticPodPath = (Resolve-Path $StaticPodPath).Path; RuntimeEndpoint = $containerd.Endpoint; RootDirectory = $root; NodeName = $node; PodLogDirectory = $containerd.PodLogDirectory }
    Write-Host "== Start-KubeletPodSync -Once ($($podSync.StaticPodPath))"
    Start-KubeletPodSync @podSync -Once -Confirm:$false
    Write-Host '== Get-KubeletPod'
    Get-KubeletPod -RuntimeEndpoint $containerd.Endpoint -RootDirectory $root | Out-Host
    Write-Host '== Get-KubeletNode'
    Get-KubeletNode -Name $node -KubeconfigPath $kubeconfig -RuntimeEndpoint $containerd.Endpoint -RootDirectory $root | Out-Host
    Write-Host '== kubectl get nodes'
    & kubectl --kubeconfig (Join-Path $cluster.Directory 'admin.conf') get nodes -o wide | Out-Host

    if ($DurationSec -gt 0) {
        Write-Host "Syncing pods for $DurationSec s ..."
        $sync = Start-ThreadJob -ArgumentList $ModulePath, $podSync -ScriptBlock {
            param($module, $parameters)
            Import-Module $module
            Start-KubeletPodSync @parameters -Confirm:$false
        }
        Start-Sleep -Seconds $DurationSec
        $sync | Stop-Job -PassThru | Remove-Job
    }
    else {
        Write-Host "`nSyncing pods in the foreground; press Ctrl+C to stop (pods, containerd and the API server are then stopped)."
        Start-KubeletPodSync @podSync -Confirm:$false -Verbose
    }
}
finally {
    if ($heartbeat) { $heartbeat | Stop-Job -PassThru | Remove-Job -Force }
    if ($cluster) { Stop-TestCluster $cluster }
    if ($containerd) { Stop-TestContainerd -Containerd $containerd }
}
