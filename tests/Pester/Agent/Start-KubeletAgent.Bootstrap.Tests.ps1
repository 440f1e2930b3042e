# Start-KubeletAgent and Start-KubeletNodeHeartbeat with only a bootstrap kubeconfig: TLS bootstrap at
# start (the test API server approves node client CSRs from bootstrappers as kube-controller-manager
# does), kubelet.conf and kubelet-client-current.pem written, then the node registered.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../TestSupport.psm1') -Force
    Import-Module (Get-TestModulePath) -Force
    $base = Join-Path '/tmp' ('kpbs-' + [guid]::NewGuid().ToString('N').Substring(0, 6))
    $bootstrap = Join-Path $base 'bootstrap-kubelet.conf'
    $cluster = Start-TestCluster -Directory (Join-Path $base 'cluster') -BootstrapKubeconfig $bootstrap
    $containerd = Start-TestContainerd -Directory (Join-Path $base 'ctd')
    $admin = Join-Path $cluster.Directory 'admin.conf'
    function Get-NodeReady([string] $Name) {
        & kubectl --kubeconfig $admin get node $Name -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>$null
    }
}

AfterAll {
    Stop-TestCluster $cluster
    Stop-TestContainerd -Containerd $containerd
    Remove-Item -Recurse -Force $base -ErrorAction Ignore
}

Describe 'Start-KubeletAgent -BootstrapKubeconfigPath' {
    It 'bootstraps the missing kubelet.conf, writes the rotated client certificate 0600, and the node becomes Ready' {
        $root = Join-Path $base 'agent'
        $parameters = @{
            KubeconfigPath = Join-Path $root 'kubelet.conf'; BootstrapKubeconfigPath = $bootstrap; CertificateDirectory = Join-Path $root 'pki'
            NodeName = 'boot1'; RuntimeEndpoint = $containerd.Endpoint; RootDirectory = Join-Path $root 'root'
            PodLogDirectory = $containerd.PodLogDirectory; StaticPodPath = ''; Port = 0; HealthzPort = -1
        }
        $job = Start-ThreadJob -ArgumentList (Get-TestModulePath), $parameters -ScriptBlock {
            param($module, $p)
            Import-Module $module
            Start-KubeletAgent @p -DurationSec 45 -Confirm:$false -Verbose *>&1 | ForEach-Object { "$_" }
        }
        try {
            Wait-Until { (Get-NodeReady boot1) -eq 'True' } 'boot1 is Ready after bootstrapping' -Seconds 120
        }
        finally {
            $output = $job | Wait-Job -Timeout 120 | Receive-Job
            $job | Remove-Job -Force
        }
        (Get-Item $parameters.KubeconfigPath).UnixFileMode | Should -Be ([System.IO.UnixFileMode]'UserRead, UserWrite')
        $current = Join-Path $parameters.CertificateDirectory 'kubelet-client-current.pem'
        $target = (Get-Item $current).LinkTarget
        $target | Should -Match 'kubelet-client-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}\.pem$'
        (Get-Item (Join-Path $parameters.CertificateDirectory (Split-Path -Leaf $target))).UnixFileMode | Should -Be ([System.IO.UnixFileMode]'UserRead, UserWrite')
        (Get-KubeletCertificate -Path $current).Subject | Should -Match 'CN=system:node:boot1'
        # Key material never reaches the streams: no PEM key block, no line of the key's base64.
        $text = $output -join "`n"
        $text | Should -Not -MatchExactly '-----BEGIN [A-Z ]*PRIVATE KEY-----'
        $pem = Get-Content -Raw $current
        $keyLines = [regex]::Match($pem, '-----BEGIN [A-Z ]*PRIVATE KEY-----\s+(?<body>[\s\S]+?)-----END').Groups['body'].Value -split '\s+' | Where-Object Length -GE 16
        $keyLines | Should -Not -BeNullOrEmpty
        foreach ($line in $keyLines) { $text.Contains($line) | Should -BeFalse }
        ($output -join "`n") | Should -Not -Match ([regex]::Escape((Get-Content -Raw $bootstrap | Select-String 'token: (\S+)').Matches[0].Groups[1].Value.Split('.')[1]))
    }
}

Describe 'Start-KubeletNodeHeartbeat -BootstrapKubeconfigPath' {
    It 'bootstraps its own kubelet.conf and registers the node' {
        $root = Join-Path $base 'heartbeat'
        $parameters = @{
            KubeconfigPath = Join-Path $root 'kubelet.conf'; BootstrapKubeconfigPath = $bootstrap; CertificateDirectory = Join-Path $root 'pki'
            NodeName = 'boot2'; RuntimeEndpoint = $containerd.Endpoint
        }
        Start-KubeletNodeHeartbeat @parameters -DurationSec 5 -Confirm:$false | Out-Null
        & kubectl --kubeconfig $admin get node boot2 -o name 2>$null | Should -Be 'node/boot2'
        Test-Path (Join-Path $parameters.CertificateDirectory 'kubelet-client-current.pem') | Should -BeTrue
    }
}
