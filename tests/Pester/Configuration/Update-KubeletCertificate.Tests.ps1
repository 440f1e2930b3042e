BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../TestSupport.psm1') -Force
    Import-Module (Get-TestModulePath) -Force
    $dir = Join-Path ([IO.Path]::GetTempPath()) "kubeletps-update-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
    $bootstrapConf = Join-Path $dir 'bootstrap-kubelet.conf'
    $cluster = Start-TestCluster -Directory $dir -Node other -BootstrapKubeconfig $bootstrapConf
    $node = Join-Path $dir 'u1'
    Request-KubeletCertificate -BootstrapKubeconfigPath $bootstrapConf -KubeconfigPath "$node/kubelet.conf" -CertificateDirectory "$node/pki" -NodeName u1 -Confirm:$false | Out-Null
}

AfterAll {
    Stop-TestCluster $cluster
    Remove-Item -Recurse -Force $dir -ErrorAction Ignore
}

Describe 'Update-KubeletCertificate' {
    It 'changes nothing with -WhatIf' {
        $before = (Get-Item "$node/pki/kubelet-client-current.pem").LinkTarget
        Update-KubeletCertificate -KubeconfigPath "$node/kubelet.conf" -CertificateDirectory "$node/pki" -NodeName u1 -WhatIf | Should -BeNullOrEmpty
        (Get-Item "$node/pki/kubelet-client-current.pem").LinkTarget | Should -Be $before
    }

    It 'rotates the client certificate with a new key and moves the current link' {
        $before = Get-KubeletCertificate -KubeconfigPath "$node/kubelet.conf"
        $link = (Get-Item "$node/pki/kubelet-client-current.pem").LinkTarget
        Start-Sleep -Seconds 1 # the dated file name has a one-second resolution
        $out = @(Update-KubeletCertificate -KubeconfigPath "$node/kubelet.conf" -CertificateDirectory "$node/pki" -NodeName u1 -Confirm:$false 3>&1 4>&1 -Verbose)
        $new = $out | Where-Object { $_ -is [KubeletPS.KubeletCertificateInfo] }
        $new.Subject | Should -Be 'O=system:nodes, CN=system:node:u1' # openssl's order, as Get-KubeletCertificate shows it
        $new.SerialNumber | Should -Not -Be $before.SerialNumber
        (Get-Item "$node/pki/kubelet-client-current.pem").LinkTarget | Should -Not -Be $link
        (Get-Item (Get-Item "$node/pki/kubelet-client-current.pem").LinkTarget).UnixMode | Should -Be '-rw-------'
        ($out | Out-String) | Should -Not -Match 'PRIVATE KEY'
        Test-KubeletCertificate -KubeconfigPath "$node/kubelet.conf" -NodeName u1 | Should -BeTrue
        $csrs = & kubectl --kubeconfig "$dir/admin.conf" get csr -o json | ConvertFrom-Json
        ($csrs.items | Where-Object { $_.metadata.name -like 'csr-*' }).spec.username | Should -Be 'system:node:u1'
    }

    It 'says what to run when the client certificate has expired and no bootstrap kubeconfig is given' {
        $expiredDir = Join-Path $dir 'expired'
        New-Item -ItemType Directory $expiredDir | Out-Null
        $kubeconfig = Join-Path $expiredDir 'kubelet.conf'
        (Get-Content -Raw "$node/kubelet.conf").Replace("$node/pki/kubelet-client-current.pem", "$expiredDir/missing.pem") | Set-Content $kubeconfig
        $err = { Update-KubeletCertificate -KubeconfigPath $kubeconfig -CertificateDirectory "$expiredDir/pki" -NodeName u1 -Confirm:$false } |
            Should -Throw -PassThru
        $err.FullyQualifiedErrorId | Should -BeLike 'UpdateKubeletCertificateCredentialsUnusable*'
        $err.Exception.Message | Should -Match 'Update-KubeletCertificate -BootstrapKubeconfigPath'
    }
}
