BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
    Import-Module (Get-TestModulePath) -Force
    $dir = Join-Path ([IO.Path]::GetTempPath()) "kubeletps-csr-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
    $bootstrapConf = Join-Path $dir 'bootstrap-kubelet.conf'
    $cluster = Start-TestCluster -Directory $dir -Node other -BootstrapKubeconfig $bootstrapConf
    $token = ([regex]::Match((Get-Content -Raw $bootstrapConf), 'token: (\S+)')).Groups[1].Value
}

AfterAll {
    Stop-TestCluster $cluster
    Remove-Item -Recurse -Force $dir -ErrorAction Ignore
}

Describe 'Request-KubeletCertificate' {
    It 'changes nothing with -WhatIf' {
        $node = Join-Path $dir 'whatif'
        $out = Request-KubeletCertificate -BootstrapKubeconfigPath $bootstrapConf -KubeconfigPath "$node/kubelet.conf" -CertificateDirectory "$node/pki" -NodeName whatif -WhatIf
        $out | Should -BeNullOrEmpty
        Test-Path "$node/kubelet.conf" | Should -BeFalse
        (& kubectl --kubeconfig "$dir/admin.conf" get csr -o name) | Should -BeNullOrEmpty
    }

    It 'bootstraps a node that has only a bootstrap kubeconfig' {
        $node = Join-Path $dir 'w1'
        $result = Request-KubeletCertificate -BootstrapKubeconfigPath $bootstrapConf -KubeconfigPath "$node/kubelet.conf" -CertificateDirectory "$node/pki" -NodeName w1 -Confirm:$false
        $result.GetType().FullName | Should -Be 'KubeletPS.Output.KubeletCertificateRequestInfo'
        $result.Bootstrapped | Should -BeTrue
        $result.CsrName | Should -BeLike 'node-csr-*'
        $result.Subject | Should -Be 'CN=system:node:w1, O=system:nodes'
        (Get-Item "$node/pki/kubelet-client-current.pem").LinkTarget | Should -Be $result.CertificateFile
        (Get-Item $result.CertificateFile).UnixMode | Should -Be '-rw-------'
        (Get-Item "$node/kubelet.conf").UnixMode | Should -Be '-rw-------'
        Test-KubeletCertificate -KubeconfigPath "$node/kubelet.conf" -NodeName w1 | Should -BeTrue
        $csr = & kubectl --kubeconfig "$dir/admin.conf" get csr $result.CsrName -o json | ConvertFrom-Json
        $csr.status.conditions[0].reason | Should -Be 'AutoApproved'
        $csr.spec.username | Should -Be "system:bootstrap:$($token.Split('.')[0])"
        ($result | Out-String) | Should -Match 'CsrName\s+: node-csr-'
    }

    It 'keeps a valid kubelet.conf and sends no request' {
        $node = Join-Path $dir 'w1'
        $before = (& kubectl --kubeconfig "$dir/admin.conf" get csr -o name).Count
        $result = Request-KubeletCertificate -BootstrapKubeconfigPath $bootstrapConf -KubeconfigPath "$node/kubelet.conf" -CertificateDirectory "$node/pki" -NodeName w1 -Confirm:$false
        $result.Bootstrapped | Should -BeFalse
        $result.Reason | Should -Be 'the current client certificate is valid'
        (& kubectl --kubeconfig "$dir/admin.conf" get csr -o name).Count | Should -Be $before
    }

    It 'times out naming the CSR when no one approves it' {
        # A node's own credentials asking for another node's name: neither selfnodeclient nor nodeclient approves it.
        $node = Join-Path $dir 'w2'
        $err = try { Request-KubeletCertificate -BootstrapKubeconfigPath "$dir/node-other.conf" -KubeconfigPath "$node/kubelet.conf" -CertificateDirectory "$node/pki" -NodeName w2 -TimeoutSec 2 -Confirm:$false; $null } catch { $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'RequestKubeletCertificateTimedOut,*'
        $err.CategoryInfo.Category | Should -Be 'OperationTimeout'
        $err.Exception.Message | Should -Match 'kubectl certificate approve node-csr-'
        Test-Path "$node/kubelet.conf" | Should -BeFalse
    }

    It 'refuses a deleted bootstrap token with an authentication error naming its id, never its secret' {
        $id, $secret = $token.Split('.')
        & kubectl --kubeconfig "$dir/admin.conf" -n kube-system delete secret "bootstrap-token-$id" | Out-Null
        $LASTEXITCODE | Should -Be 0
        $node = Join-Path $dir 'w3'
        $err = try { Request-KubeletCertificate -BootstrapKubeconfigPath $bootstrapConf -KubeconfigPath "$node/kubelet.conf" -CertificateDirectory "$node/pki" -NodeName w3 -Confirm:$false; $null } catch { $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'RequestKubeletCertificateUnauthorized,*'
        $err.CategoryInfo.Category | Should -Be 'AuthenticationError'
        $err.Exception.Message | Should -Match "bootstrap token `"$id`""
        ($err | Out-String) + $err.Exception.ToString() | Should -Not -Match $secret
    }
}
