BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../TestSupport.psm1') -Force
    Import-Module (Get-TestModulePath) -Force
    $base = Join-Path '/tmp' ('kpag-' + [guid]::NewGuid().ToString('N').Substring(0, 6))
    $cluster = Start-TestCluster -Directory (Join-Path $base 'cluster') -Node node7
    $containerd = Start-TestContainerd -Directory (Join-Path $base 'ctd')
    $admin = Join-Path $cluster.Directory 'admin.conf'
    $agentArgs = @{
        KubeconfigPath = Join-Path $cluster.Directory 'node-node7.conf'; NodeName = 'node7'; RuntimeEndpoint = $containerd.Endpoint
        RootDirectory = Join-Path $base 'root'; PodLogDirectory = $containerd.PodLogDirectory; StaticPodPath = ''; NodeIp = '10.7.7.7'
        Port = 0; HealthzPort = -1
    }
    function Get-ApiPod([string] $Name) {
        $json = & kubectl --kubeconfig $admin get pod $Name -o json 2>$null
        if ($LASTEXITCODE -eq 0) { $json | ConvertFrom-Json }
    }
}

AfterAll {
    if ($agent) { $agent | Stop-Job -PassThru | Remove-Job -Force }
    Stop-TestCluster $cluster
    Stop-TestContainerd -Containerd $containerd
    Remove-Item -Recurse -Force $base -ErrorAction Ignore
}

Describe 'Start-KubeletAgent' {
    It 'does nothing with -WhatIf' {
        Start-KubeletAgent @agentArgs -WhatIf | Should -BeNullOrEmpty
        & kubectl --kubeconfig $admin get node node7 2>&1 | Out-Null
        $LASTEXITCODE | Should -Not -Be 0
    }

    It 'joins the node and runs a pod created with kubectl, reporting its status back' {
        $script:agent = Start-ThreadJob -ArgumentList (Get-TestModulePath), $agentArgs -ScriptBlock {
            param($module, $parameters)
            Import-Module $module
            Start-KubeletAgent @parameters -StopPodsOnExit -DurationSec 240 -Confirm:$false
        }
        Wait-Until { (& kubectl --kubeconfig $admin get node node7 -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>$null) -eq 'True' } 'node7 is Ready'

        $manifest = Join-Path $base 'web.yaml'
        Set-Content $manifest @'
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  nodeName: node7
  terminationGracePeriodSeconds: 5
  containers:
  - name: httpd
    image: kubeletps.local/busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["httpd", "-f", "-p", "8080"]
    readinessProbe:
      tcpSocket:
        port: 8080
      periodSeconds: 1
'@
        & kubectl --kubeconfig $admin create -f $manifest | Out-Null
        $LASTEXITCODE | Should -Be 0
        Wait-Until { $p = Get-ApiPod web; $p.status.phase -eq 'Running' -and ($p.status.conditions | Where-Object type -eq 'Ready').status -eq 'True' } 'the pod is Running and Ready in the API'
        $pod = Get-ApiPod web
        $pod.status.podIP | Should -Match '^10\.231\.'
        $pod.status.hostIP | Should -Be '10.7.7.7'
        $pod.status.containerStatuses[0].ready | Should -BeTrue
        $pod.status.containerStatuses[0].containerID | Should -BeLike 'containerd://*'
    }

    It 'kills a pod deleted with kubectl within its grace period and removes it' {
        & kubectl --kubeconfig $admin delete pod web --wait=false | Out-Null
        Wait-Until { $null -eq (Get-ApiPod web) } 'the pod is gone from the API' 60
        Wait-Until { -not (Get-KubeletPod -RuntimeEndpoint $containerd.Endpoint -RootDirectory $agentArgs.RootDirectory | Where-Object Name -eq 'web') } 'the pod is gone from the node' 30
    }

    It 'rejects a pod too large for the node with OutOfmemory' {
        $manifest = Join-Path $base 'huge.yaml'
        Set-Content $manifest @'
apiVersion: v1
kind: Pod
metadata:
  name: huge
spec:
  nodeName: node7
  containers:
  - name: main
    image: kubeletps.local/busybox:latest
    imagePullPolicy: IfNotPresent
    resources:
      requests:
        memory: 100Ti
'@
        & kubectl --kubeconfig $admin create -f $manifest | Out-Null
        Wait-Until { (Get-ApiPod huge).status.phase -eq 'Failed' } 'the pod is rejected' 60
        (Get-ApiPod huge).status.reason | Should -Be 'OutOfmemory'
    }
}
