# kubectl exec, attach and port-forward to a pod of an agent started from the module: kubectl 1.32 ->
# test API server (pods/exec, attach, portforward) -> the agent's kubelet server -> containerd's streaming server.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../TestSupport.psm1') -Force
    Import-Module (Get-TestModulePath) -Force
    $base = Join-Path '/tmp' ('kpst-' + [guid]::NewGuid().ToString('N').Substring(0, 6))
    $cluster = Start-TestCluster -Directory (Join-Path $base 'cluster') -Node node9
    $containerd = Start-TestContainerd -Directory (Join-Path $base 'ctd')
    $admin = Join-Path $cluster.Directory 'admin.conf'
    # The API server reaches the kubelet at the node's InternalIP with its kubelet-client certificate (cluster CA).
    $config = Join-Path $base 'config.yaml'
    Set-Content $config @"
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  x509:
    clientCAFile: $(Join-Path $cluster.Directory 'ca.crt')
authorization:
  mode: $($env:KUBELETPS_TEST_AUTHZ ?? 'Webhook')
"@
    $agentArgs = @{
        KubeconfigPath = Join-Path $cluster.Directory 'node-node9.conf'; ConfigPath = $config; NodeName = 'node9'; RuntimeEndpoint = $containerd.Endpoint
        RootDirectory = Join-Path $base 'root'; PodLogDirectory = $containerd.PodLogDirectory; StaticPodPath = ''; NodeIp = '127.0.0.1'
        Port = 0; HealthzPort = -1
    }
    $agent = Start-ThreadJob -ArgumentList (Get-TestModulePath), $agentArgs -ScriptBlock {
        param($module, $parameters)
        Import-Module $module
        Start-KubeletAgent @parameters -StopPodsOnExit -DurationSec 300 -Confirm:$false
    }
    Wait-Until { (& kubectl --kubeconfig $admin get node node9 -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>$null) -eq 'True' } 'node9 is Ready'
    $manifest = Join-Path $base 'web.yaml'
    Set-Content $manifest @'
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  nodeName: node9
  terminationGracePeriodSeconds: 1
  containers:
  - name: httpd
    image: kubeletps.local/busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "mkdir -p /www && echo served-by-web > /www/index.html && exec httpd -f -p 8080 -h /www"]
  - name: ticker
    image: kubeletps.local/busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "while true; do echo tick; sleep 0.5; done"]
'@
    & kubectl --kubeconfig $admin create -f $manifest | Out-Null
    Wait-Until { (& kubectl --kubeconfig $admin get pod web -o jsonpath='{.status.phase}' 2>$null) -eq 'Running' } 'the pod web is Running'
}

AfterAll {
    if ($agent) { $agent | Stop-Job -PassThru | Remove-Job -Force }
    Stop-TestCluster $cluster
    Stop-TestContainerd -Containerd $containerd
    Remove-Item -Recurse -Force $base -ErrorAction Ignore
}

Describe 'Start-KubeletAgent' {
    Context 'kubectl exec, attach and port-forward reach its pods' {
        It 'kubectl exec prints the output of the command' {
            $out = & kubectl --kubeconfig $admin exec web -c httpd -- cat /www/index.html 2>&1
            $LASTEXITCODE | Should -Be 0 -Because ($out -join "`n")
            $out | Should -Be 'served-by-web'
        }

        It 'kubectl exec exits with the exit code of the command' {
            & kubectl --kubeconfig $admin exec web -c httpd -- sh -c 'exit 3' 2>&1 | Out-Null
            $LASTEXITCODE | Should -Be 3
        }

        It 'kubectl exec -i passes stdin to the command' {
            $out = "one`ntwo" | & kubectl --kubeconfig $admin exec -i web -c httpd -- wc -l 2>&1
            $LASTEXITCODE | Should -Be 0 -Because ($out -join "`n")
            "$out".Trim() | Should -Be '2'
        }

        It 'kubectl exec into a container the pod does not have names it' {
            $out = & kubectl --kubeconfig $admin exec web -c nope -- true 2>&1
            $LASTEXITCODE | Should -Not -Be 0
            "$out" | Should -Match 'container nope is not valid for pod web'
        }

        It 'kubectl attach streams what the container prints' {
            $log = Join-Path $base 'attach.log'
            $attach = Start-Process kubectl -ArgumentList '--kubeconfig', $admin, 'attach', 'web', '-c', 'ticker' -RedirectStandardOutput $log -RedirectStandardError "$log.err" -PassThru
            try {
                Wait-Until { (Get-Content -Raw $log -ErrorAction Ignore) -match 'tick' } 'kubectl attach shows the ticks'
            }
            finally {
                $attach | Stop-Process -Force
            }
        }

        It 'kubectl port-forward carries an HTTP request to the pod' {
            $log = Join-Path $base 'port-forward.log'
            $pf = Start-Process kubectl -ArgumentList '--kubeconfig', $admin, 'port-forward', 'pod/web', ':8080' -RedirectStandardOutput $log -RedirectStandardError "$log.err" -PassThru
            try {
                Wait-Until { (Get-Content -Raw $log -ErrorAction Ignore) -match 'Forwarding from 127\.0\.0\.1:(\d+)' } 'kubectl port-forward listens'
                $port = [regex]::Match((Get-Content -Raw $log), 'Forwarding from 127\.0\.0\.1:(\d+)').Groups[1].Value
                (Invoke-WebRequest "http://127.0.0.1:$port/index.html" -TimeoutSec 30).Content.Trim() | Should -Be 'served-by-web'
            }
            finally {
                $pf | Stop-Process -Force
            }
        }
    }
}
