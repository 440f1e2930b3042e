<#
.SYNOPSIS
    The kubelet server's cost (a benchmark, not a test): kubectl logs of 10 MiB through the test API server and the
    kubelet server against the same read straight from the log file, and the agent's idle CPU with and without its server.
.DESCRIPTION
    Starts the test API server, a private containerd and Start-KubeletAgent in its own pwsh (so its CPU time can be read
    from /proc), runs a pod that writes 10 MiB to stdout, then times `kubectl logs` (wall time and the agent's CPU) and
    `cat` of the CRI log file, and prints the ratio. Then measures the agent's CPU over -IdleSeconds with the server and
    again with enableServer: false. Prints the load average, since the machine may be shared.
#>
param([string] $ModulePath = (Join-Path $PSScriptRoot '../../out/KubeletPS/KubeletPS.psd1'), [int] $IdleSeconds = 60, [int] $LogMiB = 10)
$ErrorActionPreference = 'Stop'
$env:KUBELETPS_REPO = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
$env:KUBELETPS_MODULE = (Resolve-Path $ModulePath).Path
Import-Module (Join-Path $PSScriptRoot '../Pester/TestSupport.psm1') -Force
$base = Join-Path '/tmp' ('kpsb-' + [guid]::NewGuid().ToString('N').Substring(0, 6))
$cluster = Start-TestCluster -Directory (Join-Path $base 'cluster') -Node bench
$containerd = Start-TestContainerd -Directory (Join-Path $base 'ctd')
$admin = Join-Path $cluster.Directory 'admin.conf'

function Get-CpuSeconds([int] $ProcessId) {
    # utime + stime of the process and its threads, in clock ticks (100 per second on Linux), and of its descendants:
    # `dotnet pwsh` is the tool shim, the agent runs in the pwsh process it starts.
    $fields = (Get-Content "/proc/$ProcessId/stat" -Raw) -replace '^.*\) ', '' -split ' '
    $total = ([long]$fields[11] + [long]$fields[12]) / 100.0
    $children = Get-ChildItem "/proc/$ProcessId/task/*/children" -ErrorAction Ignore | Get-Content | ForEach-Object { $_ -split ' ' } | Where-Object { $_ }
    foreach ($child in $children) { $total += Get-CpuSeconds ([int]$child) }
    $total
}

function Start-Agent([bool] $Server) {
    $config = Join-Path $base "config-$Server.yaml"
    Set-Content $config ("apiVersion: kubelet.config.k8s.io/v1beta1`nkind: KubeletConfiguration`nenableServer: $($Server.ToString().ToLower())`n" +
        "authentication:`n  x509:`n    clientCAFile: $(Join-Path $cluster.Directory 'ca.crt')`n")
    $script = "Import-Module '$env:KUBELETPS_MODULE'; Start-KubeletAgent -KubeconfigPath '$(Join-Path $cluster.Directory 'node-bench.conf')' -NodeName bench " +
        "-ConfigPath '$config' -RuntimeEndpoint '$($containerd.Endpoint)' -RootDirectory '$(Join-Path $base 'root')' -PodLogDirectory '$($containerd.PodLogDirectory)' " +
        "-StaticPodPath '' -NodeIp 127.0.0.1 -Port 0 -HealthzPort 0 -StopPodsOnExit -Confirm:`$false"
    $process = Start-Process dotnet -ArgumentList 'pwsh', '-NoProfile', '-NonInteractive', '-Command', $script -PassThru `
        -RedirectStandardOutput (Join-Path $base "agent-$Server.log") -RedirectStandardError (Join-Path $base "agent-$Server.err")
    Wait-Until { (& kubectl --kubeconfig $admin get node bench -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>$null) -eq 'True' } 'the node is Ready' 120
    $process
}

function Stop-Agent($Process) {
    & kill -INT $Process.Id
    if (-not $Process.WaitForExit(60000)) { $Process.Kill() }
}

try {
    "load average before: $(Get-Content /proc/loadavg)"
    $agent = Start-Agent $true
    $bytes = $LogMiB * 1MB
    & kubectl --kubeconfig $admin run talker --image kubeletps.local/busybox:latest --image-pull-policy IfNotPresent `
        --overrides '{"spec":{"nodeName":"bench"}}' --command -- sh -c "yes 0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz | head -c $bytes; sleep 3600" | Out-Null
    Wait-Until { Get-ChildItem -Recurse -Filter '0.log' (Join-Path $containerd.PodLogDirectory 'default_talker_*') -ErrorAction Ignore | Where-Object Length -GE $bytes } 'the pod wrote its log' 120
    Start-Sleep -Seconds 2
    $file = (Get-ChildItem -Recurse -Filter '0.log' (Join-Path $containerd.PodLogDirectory 'default_talker_*')).FullName

    $direct = Measure-Command { & cat $file | Out-Null }
    $cpuBefore = Get-CpuSeconds $agent.Id
    $out = Join-Path $base 'kubectl-logs.txt'
    $served = Measure-Command { & kubectl --kubeconfig $admin logs talker > $out }
    $cpu = (Get-CpuSeconds $agent.Id) - $cpuBefore
    $received = (Get-Item $out).Length
    if ($received -ne $bytes) { Write-Warning "kubectl logs returned $received bytes, expected $bytes" }
    "kubectl logs of $LogMiB MiB through the API server and the kubelet server: {0:N2} s, agent CPU {1:N2} s" -f $served.TotalSeconds, $cpu
    "cat of the CRI log file ({0:N1} MiB with CRI prefixes): {1:N2} s" -f ((Get-Item $file).Length / 1MB), $direct.TotalSeconds
    "ratio kubectl logs / direct read: {0:N1}" -f ($served.TotalSeconds / [math]::Max($direct.TotalSeconds, 0.001))

    $before = Get-CpuSeconds $agent.Id
    Start-Sleep -Seconds $IdleSeconds
    $withServer = (Get-CpuSeconds $agent.Id) - $before
    Stop-Agent $agent
    $agent = Start-Agent $false
    $before = Get-CpuSeconds $agent.Id
    Start-Sleep -Seconds $IdleSeconds
    $withoutServer = (Get-CpuSeconds $agent.Id) - $before
    "agent idle CPU over $IdleSeconds s (one pod): with the server {0:N2} s, enableServer false {1:N2} s" -f $withServer, $withoutServer
    "load average after: $(Get-Content /proc/loadavg)"
}
finally {
    if ($agent -and -not $agent.HasExited) { Stop-Agent $agent }
    Stop-TestCluster $cluster
    Stop-TestContainerd -Containerd $containerd
    Remove-Item -Recurse -Force $base -ErrorAction Ignore
}
