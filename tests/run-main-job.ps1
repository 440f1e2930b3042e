#requires -Version 7.4
<#
.SYNOPSIS
    The main job: this machine joins a cluster as a node and runs the example static pods.
.DESCRIPTION
    Starts a private containerd (own config, root, state and socket, CNI bridge, local busybox and
    pause images) and the test API server (tests/KubeletPS.TestCluster) with a node certificate for
    this host, then, with the built module:
      1. checks the API access (Test-KubeletApiConnection);
      2. runs the kubelet (Start-KubeletAgent): the node registers and becomes Ready, the example
         static pods start and get mirror pods;
      3. creates a pod bound to this node with kubectl, as the scheduler would, and shows it Running
         (kubectl get pods -o wide, Get-KubeletPod, Get-KubeletNode);
      4. uses the kubelet API through the API server as README's main-job section shows it: kubectl logs
         (the static pods' mirror pods), kubectl exec (a listing, an exit status, stdin), kubectl top node and
         pod (once metrics.k8s.io has two scrapes, up to 90 s) and the kubelet's /metrics through nodes/proxy;
      5. keeps the agent running until Ctrl+C;
    then stops the pods, containerd and the test API server. Everything lives under -WorkDirectory.
#>
param(
    [Parameter(Mandatory)][string] $ModulePath,
    [string] $WorkDirectory = (Join-Path ([IO.Path]::GetTempPath()) 'kubeletps-main'),
    [string] $StaticPodPath = (Join-Path $PSScriptRoot '../module/examples/static-pods'),
    # Stop after this many seconds instead of waiting for Ctrl+C (used by automation).
    [int] $DurationSec = 0,
    # The kubelet server on free ports instead of 10250/10248 (a machine where another kubelet may listen).
    [switch] $FreePorts
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
$containerd = $null; $cluster = $null; $agent = $null
try {
    Write-Host "Starting a private containerd in $WorkDirectory/containerd ..."
    $containerd = Start-TestContainerd -Directory (Join-Path $WorkDirectory 'containerd')
    Write-Host "  containerd ready at $($containerd.Endpoint)"
    Write-Host 'Starting the test API server ...'
    $cluster = Start-TestCluster -Directory (Join-Path $WorkDirectory 'cluster') -Node $node
    $kubeconfig = Join-Path $cluster.Directory "node-$node.conf"
    Write-Host "  API server ready at $($cluster.Url); admin kubeconfig $($cluster.Directory)/admin.conf"

    Write-Host "`n== Test-KubeletApiConnection -Detailed"
    Test-KubeletApiConnection -KubeconfigPath $kubeconfig -Detailed | Format-Table -AutoSize | Out-Host

    # As kubeadm writes config.yaml: client certificates checked against the cluster CA, so the API server's
    # kubelet-client certificate is accepted on the kubelet port (kubectl logs, exec, top).
    $config = Join-Path $WorkDirectory 'config.yaml'
    Set-Content $config ("apiVersion: kubelet.config.k8s.io/v1beta1`nkind: KubeletConfiguration`n" +
        "authentication:`n  x509:`n    clientCAFile: $(Join-Path $cluster.Directory 'ca.crt')`n")
    $agentArgs = @{
        KubeconfigPath = $kubeconfig; NodeName = $node; RuntimeEndpoint = $containerd.Endpoint; RootDirectory = $root
        PodLogDirectory = $containerd.PodLogDirectory; StaticPodPath = (Resolve-Path $StaticPodPath).Path; ConfigPath = $config
    }
    if ($FreePorts) { $agentArgs.Port = 0; $agentArgs.HealthzPort = 0 }
    Write-Host "== Start-KubeletAgent (static pods from $($agentArgs.StaticPodPath))"
    $agent = Start-ThreadJob -ArgumentList $ModulePath, $agentArgs -ScriptBlock {
        param($module, $parameters)
        Import-Module $module
        Start-KubeletAgent @parameters -StopPodsOnExit -Confirm:$false -Verbose 4>&1
    }
    $admin = Join-Path $cluster.Directory 'admin.conf'
    $deadline = [DateTime]::UtcNow.AddMinutes(2)
    while ((& kubectl --kubeconfig $admin get node $node -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>$null) -ne 'True') {
        if ([DateTime]::UtcNow -gt $deadline -or $agent.State -ne 'Running') { Receive-Job $agent | Out-Host; throw 'The node did not become Ready.' }
        Start-Sleep -Milliseconds 500
    }
    Write-Host "== kubectl get nodes -o wide"
    & kubectl --kubeconfig $admin get nodes -o wide | Out-Host

    Write-Host "== kubectl run web (a pod bound to $node, as the scheduler would bind it)"
    & kubectl --kubeconfig $admin run web --image kubeletps.local/busybox:latest --image-pull-policy IfNotPresent `
        --overrides "{""spec"":{""nodeName"":""$node""}}" -- httpd -f -p 8080 | Out-Host
    $deadline = [DateTime]::UtcNow.AddMinutes(2)
    while ((& kubectl --kubeconfig $admin get pod web -o jsonpath='{.status.phase}' 2>$null) -ne 'Running' -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 500 }
    Start-Sleep -Seconds 3  # let the static pods' mirror pods report too
    Write-Host "== kubectl get pods -o wide (the API pod and the static pods' mirror pods)"
    & kubectl --kubeconfig $admin get pods -o wide | Out-Host
    Write-Host '== Get-KubeletPod'
    Get-KubeletPod -RuntimeEndpoint $containerd.Endpoint -RootDirectory $root | Out-Host
    Write-Host '== Get-KubeletNode'
    Get-KubeletNode -Name $node -KubeconfigPath $kubeconfig -RuntimeEndpoint $containerd.Endpoint -RootDirectory $root | Out-Host

    Write-Host "`n== The kubelet API through the API server (README's main job; export KUBECONFIG=$admin)"
    $env:KUBECONFIG = $admin
    function Show-Kubectl([string] $Shown, [scriptblock] $Command) {
        Write-Host "`$ $Shown"
        & $Command 2>&1 | ForEach-Object { "$_" } | Out-Host
        return $LASTEXITCODE
    }
    $deadline = [DateTime]::UtcNow.AddMinutes(2)
    while ((& kubectl get pod "report-job-$node" -o jsonpath='{.status.phase}' 2>$null) -notin 'Succeeded', 'Failed' -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 500 }
    $failed = @()
    $steps = [ordered]@{
        "kubectl logs init-shared-$node --tail 2" = { kubectl logs "init-shared-$node" --tail 2 }
        "kubectl logs report-job-$node"           = { kubectl logs "report-job-$node" }
        'kubectl exec web -- ls /'                 = { kubectl exec web -- ls / }
    }
    foreach ($step in $steps.GetEnumerator()) { if ((Show-Kubectl $step.Key $step.Value) -ne 0) { $failed += $step.Key } }
    $status = Show-Kubectl "kubectl exec web -- sh -c 'echo hello from `$(hostname); exit 3'; echo `"exit status: `$?`"" { kubectl exec web -- sh -c 'echo hello from $(hostname); exit 3' }
    Write-Host "exit status: $status"
    if ($status -ne 3) { $failed += 'kubectl exec web -- ... exit 3' }
    Write-Host "`$ printf 'line one\nline two\n' | kubectl exec -i web -- wc -l"
    # PowerShell ends what it pipes to a native command with a newline: two lines, as printf's.
    "line one`nline two" | & kubectl exec -i web -- wc -l 2>&1 | Out-Host
    if ($LASTEXITCODE -ne 0) { $failed += 'kubectl exec -i web -- wc -l' }
    # metrics.k8s.io answers "metrics not available yet" until it has two scrapes of /metrics/resource (15 s apart).
    $deadline = [DateTime]::UtcNow.AddSeconds(90)
    while (-not (& kubectl top node 2>$null) -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Seconds 2 }
    if ((Show-Kubectl 'kubectl top node' { kubectl top node }) -ne 0) { $failed += 'kubectl top node' }
    if ((Show-Kubectl 'kubectl top pod' { kubectl top pod }) -ne 0) { $failed += 'kubectl top pod' }
    $metricsShown = "kubectl get --raw /api/v1/nodes/$node/proxy/metrics | grep -E '^kubelet_pod_start_duration_seconds_(sum|count)|^kubelet_started_pods_total'"
    $metricsExit = Show-Kubectl $metricsShown {
        kubectl get --raw "/api/v1/nodes/$node/proxy/metrics" | Select-String -Pattern '^kubelet_pod_start_duration_seconds_(sum|count)|^kubelet_started_pods_total'
    }
    if ($metricsExit -ne 0) { $failed += 'kubectl get --raw .../proxy/metrics' }
    if ($failed) { throw "The kubelet API did not answer as README shows: $($failed -join '; ')" }

    if ($DurationSec -gt 0) {
        Write-Host "The agent runs for $DurationSec s more ..."
        Start-Sleep -Seconds $DurationSec
    }
    else {
        Write-Host "`nThe agent runs until Ctrl+C (its log follows; try kubectl --kubeconfig $admin get pods -w in another shell)."
        while ($agent.State -eq 'Running') { Receive-Job $agent | Out-Host; Start-Sleep -Seconds 1 }
        Receive-Job $agent | Out-Host
    }
}
finally {
    if ($agent) { $agent | Stop-Job -PassThru | Remove-Job -Force }
    if ($cluster) { Stop-TestCluster $cluster }
    if ($containerd) { Stop-TestContainerd -Containerd $containerd }
}
