BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../TestSupport.psm1') -Force
    Import-Module (Get-TestModulePath) -Force
    $dir = Join-Path ([IO.Path]::GetTempPath()) "kubeletps-join-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
    $null = New-Item -ItemType Directory -Force $dir
    $clusterConfig = Join-Path $dir 'cluster-kubelet.yaml'
    Set-Content $clusterConfig "apiVersion: kubelet.config.k8s.io/v1beta1`nkind: KubeletConfiguration`nclusterDomain: pester.example`nmaxPods: 17`n"
    $cluster = Start-TestCluster -Directory $dir -KubeletConfig $clusterConfig -PrintJoinCommand
    # "Join-KubeletCluster -Server 127.0.0.1:PORT -Token ID.SECRET -CACertHash sha256:HEX", as kubeadm token create --print-join-command prints it.
    $parts = $cluster.JoinCommand -split ' '
    $server, $token, $hash = $parts[2], $parts[4], $parts[6]
    $secret = $token.Split('.')[1]
    function Join-Paths([string] $Node) {
        $root = Join-Path $dir $Node
        @{ KubeconfigPath = "$root/etc/kubelet.conf"; ConfigPath = "$root/var/config.yaml"; CertificateDirectory = "$root/var/pki" }
    }
}

AfterAll {
    Stop-TestCluster $cluster
    Remove-Item -Recurse -Force $dir -ErrorAction Ignore
}

Describe 'Join-KubeletCluster' {
    It 'refuses a malformed token at parameter binding without repeating it' {
        $paths = Join-Paths 'bad-token'
        $err = Get-ErrorRecord { Join-KubeletCluster -Server $server -Token "$($token.Substring(0, 22))X" -CACertHash $hash @paths -Confirm:$false }
        $err.FullyQualifiedErrorId | Should -BeLike 'ParameterArgumentValidationError,*JoinKubeletClusterCommand'
        $err.Exception.Message | Should -Match 'is not of the form \[a-z0-9\]\{6\}\.\[a-z0-9\]\{16\}'
        ($err | Out-String) | Should -Not -Match $secret.Substring(0, 12)
    }

    It 'refuses a malformed CA hash with kubeadm''s message' {
        $err = Get-ErrorRecord { Join-KubeletCluster -Server $server -Token $token -CACertHash 'sha256:abcd' -Confirm:$false }
        $err.FullyQualifiedErrorId | Should -BeLike 'ParameterArgumentValidationError,*'
        $err.Exception.Message | Should -Match 'expected a 32 byte SHA-256 hash, found 2 bytes'
    }

    It 'requires a CA hash unless -UnsafeSkipCAVerification' {
        $err = Get-ErrorRecord { Join-KubeletCluster -Server $server -Token $token -Confirm:$false }
        $err.FullyQualifiedErrorId | Should -BeLike 'JoinKubeletClusterCACertHashRequired,*'
        $err.CategoryInfo.Category | Should -Be 'InvalidArgument'
    }

    It 'refuses a wrong CA hash with kubeadm''s message and writes nothing' {
        $paths = Join-Paths 'wrong-hash'
        $wrong = 'sha256:' + ('0' * 64)
        $err = Get-ErrorRecord { Join-KubeletCluster -Server $server -Token $token -CACertHash $wrong @paths -Confirm:$false }
        $err.FullyQualifiedErrorId | Should -BeLike 'JoinKubeletClusterCACertHashMismatch,*'
        $err.CategoryInfo.Category | Should -Be 'SecurityError'
        $err.Exception.Message | Should -Be "cluster CA found in cluster-info ConfigMap is invalid: none of the public keys `"$hash`" are pinned"
        Test-Path (Join-Path $dir 'wrong-hash') | Should -BeFalse
    }

    It 'refuses an unknown token id after the discovery timeout, as kubeadm does' {
        $paths = Join-Paths 'unknown'
        $err = Get-ErrorRecord { Join-KubeletCluster -Server $server -Token 'zzzzzz.0123456789abcdef' -CACertHash $hash @paths -DiscoveryTimeoutSec 1 -Confirm:$false }
        $err.FullyQualifiedErrorId | Should -BeLike 'JoinKubeletClusterTokenNotSigned,*'
        $err.CategoryInfo.Category | Should -Be 'AuthenticationError'
        $err.Exception.Message | Should -Match 'token id "zzzzzz" is invalid for this cluster or it has expired'
        Test-Path (Join-Path $dir 'unknown') | Should -BeFalse
    }

    It 'checks the join with -WhatIf and writes nothing' {
        $paths = Join-Paths 'whatif'
        $out = Join-KubeletCluster -Server $server -Token $token -CACertHash $hash -NodeName whatif @paths -WhatIf
        $out | Should -BeNullOrEmpty
        Test-Path (Join-Path $dir 'whatif') | Should -BeFalse
        (& kubectl --kubeconfig "$dir/admin.conf" get csr -o name) | Should -BeNullOrEmpty
    }

    It 'joins: writes kubeadm''s files with the cluster''s kubelet configuration, and the token appears in no output stream' {
        $paths = Join-Paths 'w1'
        $records = Join-KubeletCluster -Server $server -Token $token -CACertHash $hash -NodeName w1 @paths -Confirm:$false -Verbose *>&1
        $result = $records | Where-Object { $_ -is [KubeletPS.Output.KubeletJoinInfo] }
        $result | Should -HaveCount 1
        $result.NodeName | Should -Be 'w1'
        $result.Server | Should -Be $cluster.Url
        $result.CACertHash | Should -Be $hash
        $result.CAPinned | Should -BeTrue
        $result.ConfigSource | Should -BeLike 'kubelet-config ConfigMap*'
        Get-Content -Raw $paths.ConfigPath | Should -Be (Get-Content -Raw $clusterConfig)
        (Get-Item $paths.KubeconfigPath).UnixMode | Should -Be '-rw-------'
        (Get-Item $result.CertificateFile).UnixMode | Should -Be '-rw-------'
        (Get-Item $result.CACertPath).UnixMode | Should -Be '-rw-r--r--'
        (Get-Item $paths.ConfigPath).UnixMode | Should -Be '-rw-r--r--'
        Test-Path (Join-Path (Split-Path $paths.KubeconfigPath) 'bootstrap-kubelet.conf') | Should -BeFalse
        Test-KubeletCertificate -KubeconfigPath $paths.KubeconfigPath -CAPath $result.CACertPath -NodeName w1 | Should -BeTrue
        (Get-KubeletConfig -Path $paths.ConfigPath -KubeconfigPath $paths.KubeconfigPath).MaxPods | Should -Be 17
        $csr = & kubectl --kubeconfig "$dir/admin.conf" get csr $result.CsrName -o json | ConvertFrom-Json
        $csr.spec.username | Should -Be "system:bootstrap:$($token.Split('.')[0])"
        $text = ($records | Out-String) + ($records | ForEach-Object { "$_" }) -join "`n"
        $text | Should -Not -Match $secret
        $text | Should -Match ([regex]::Escape("$($token.Split('.')[0]).****"))
        Get-ChildItem -Recurse -File (Join-Path $dir 'w1') | ForEach-Object { Get-Content -Raw $_.FullName | Should -Not -Match $secret }
        ($result | Out-String) | Should -Match 'CACertHash\s+: sha256:[0-9a-f]{64}'
    }

    It 'refuses to overwrite an earlier join without -Force' {
        $paths = Join-Paths 'w1'
        $err = Get-ErrorRecord { Join-KubeletCluster -Server $server -Token $token -CACertHash $hash -NodeName w1 @paths -Confirm:$false }
        $err.FullyQualifiedErrorId | Should -BeLike 'JoinKubeletClusterAlreadyJoined,*'
        $err.CategoryInfo.Category | Should -Be 'ResourceExists'
    }

    It 'refuses -Install where PID 1 is not systemd, before changing anything' -Skip:(Test-Path /run/systemd/system) {
        $paths = Join-Paths 'no-systemd'
        $err = Get-ErrorRecord { Join-KubeletCluster -Server $server -Token $token -CACertHash $hash -NodeName w9 @paths -Install -Confirm:$false }
        $err.FullyQualifiedErrorId | Should -BeLike 'JoinKubeletClusterSystemdNotRunning,*'
        $err.Exception.Message | Should -Match "PID 1 is '.+'"
        Test-Path (Join-Path $dir 'no-systemd') | Should -BeFalse
    }
}
