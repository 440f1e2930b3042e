# The kubelet server as the module runs it in pwsh: Kestrel loaded from the ASP.NET Core shared framework by the
# module's load context, reached through the test API server's nodes/proxy, and the agent without that framework.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../TestSupport.psm1') -Force
    Import-Module (Get-TestModulePath) -Force
    $base = Join-Path '/tmp' ('kpsv-' + [guid]::NewGuid().ToString('N').Substring(0, 6))
    $cluster = Start-TestCluster -Directory (Join-Path $base 'cluster') -Node node8, node9
    $containerd = Start-TestContainerd -Directory (Join-Path $base 'ctd')
    $admin = Join-Path $cluster.Directory 'admin.conf'
    $config = Join-Path $base 'config.yaml'
    Set-Content $config "apiVersion: kubelet.config.k8s.io/v1beta1`nkind: KubeletConfiguration`nauthentication:`n  x509:`n    clientCAFile: $(Join-Path $cluster.Directory 'ca.crt')`n"
    function Get-FreePort {
        $listener = [System.Net.Sockets.TcpListener]::new([ipaddress]::Loopback, 0)
        $listener.Start(); $port = $listener.LocalEndpoint.Port; $listener.Stop(); $port
    }
    function Get-AgentArgs([string] $Node) {
        @{
            KubeconfigPath = Join-Path $cluster.Directory "node-$Node.conf"; NodeName = $Node; RuntimeEndpoint = $containerd.Endpoint
            RootDirectory = Join-Path $base "root-$Node"; PodLogDirectory = $containerd.PodLogDirectory; StaticPodPath = ''; NodeIp = '127.0.0.1'
            ConfigPath = $config; Port = 0
        }
    }
}

AfterAll {
    if ($agent) { $agent | Stop-Job -PassThru | Remove-Job -Force }
    Stop-TestCluster $cluster
    Stop-TestContainerd -Containerd $containerd
    Remove-Item -Recurse -Force $base -ErrorAction Ignore
}

Describe 'Start-KubeletAgent kubelet server' {
    It 'serves healthz through the API server''s nodes/proxy and in plain HTTP on the healthz port' {
        $healthzPort = Get-FreePort
        $agentArgs = (Get-AgentArgs node8) + @{ HealthzPort = $healthzPort }
        $script:agent = Start-ThreadJob -ArgumentList (Get-TestModulePath), $agentArgs -ScriptBlock {
            param($module, $parameters)
            Import-Module $module
            Start-KubeletAgent @parameters -StopPodsOnExit -DurationSec 120 -Confirm:$false
        }
        Wait-Until { (& kubectl --kubeconfig $admin get node node8 -o jsonpath='{.status.daemonEndpoints.kubeletEndpoint.Port}' 2>$null) -notin '', '10250' } 'node8 advertises its kubelet port'
        Wait-Until { (& kubectl --kubeconfig $admin get --raw /api/v1/nodes/node8/proxy/healthz 2>$null) -eq 'ok' } 'kubectl get --raw .../proxy/healthz answers ok'
        (Invoke-WebRequest "http://127.0.0.1:$healthzPort/healthz?verbose").Content | Should -Match '\[\+\]ping ok'
        $configz = & kubectl --kubeconfig $admin get --raw /api/v1/nodes/node8/proxy/configz | ConvertFrom-Json
        $configz.kubeletconfig.authentication.x509.clientCAFile | Should -Be (Join-Path $cluster.Directory 'ca.crt')
        $agent | Stop-Job -PassThru | Remove-Job -Force
        $script:agent = $null
    }

    It 'warns, naming the folder it searched and the package, and runs without the server where ASP.NET Core is absent' {
        $empty = Join-Path $base 'no-shared-framework'
        $null = New-Item -ItemType Directory -Force $empty
        $agentArgs = Get-AgentArgs node9
        $parameters = ($agentArgs.GetEnumerator() | ForEach-Object { "-$($_.Key) '$($_.Value)'" }) -join ' '
        $script = "Import-Module '$(Get-TestModulePath)'; Start-KubeletAgent $parameters -HealthzPort 0 -StopPodsOnExit -DurationSec 25 -Confirm:`$false 3>&1 | ForEach-Object { `"WARNING: `$_`" }"
        $env:KUBELETPS_DOTNET_SHARED = $empty
        try { $output = & dotnet pwsh -NoProfile -NonInteractive -Command $script 2>&1 | Out-String }
        finally { Remove-Item Env:KUBELETPS_DOTNET_SHARED }
        $output | Should -Match ([regex]::Escape("is not installed in $empty/Microsoft.AspNetCore.App"))
        $output | Should -Match 'aspnetcore-runtime-\d+\.0'
        # The node registered all the same, advertising kubelet's default port.
        & kubectl --kubeconfig $admin get node node9 -o jsonpath='{.metadata.name}' | Should -Be 'node9'
    }
}
