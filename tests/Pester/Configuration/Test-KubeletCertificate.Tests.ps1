BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../TestSupport.psm1') -Force
    Import-Module (Get-TestModulePath) -Force
    $pki = New-TestPki -Directory (Join-Path $TestDrive 'pki')
    $files = $pki.Files
    $ca = $files['ca.crt']
}

Describe 'Test-KubeletCertificate' {
    It 'passes the node certificate and its CA' {
        $result = Test-KubeletCertificate -Path $files['kubelet-client-current.pem'] -CAPath $ca
        $result | Should -BeOfType ([bool])
        $result | Should -BeTrue
        Test-KubeletCertificate -Path $files['kubelet-client-current.pem'] -CAPath $ca -NodeName node-1 | Should -BeTrue
    }

    It 'passes every key encoding: <Certificate> <Key>' -ForEach @(
        @{ Certificate = 'kubelet-client.crt'; Key = 'kubelet-client.key' }
        @{ Certificate = 'kubelet-client.crt'; Key = 'kubelet-client-pkcs8.key' }
        @{ Certificate = 'rsa.crt'; Key = 'rsa-pkcs1.key' }
        @{ Certificate = 'rsa-pkcs8.pem'; Key = $null }
        @{ Certificate = 'rsa-pkcs1.pem'; Key = $null }
    ) {
        $arguments = @{ Path = $files[$Certificate]; CAPath = $ca }
        if ($Key) { $arguments.KeyPath = $files[$Key] }
        Test-KubeletCertificate @arguments | Should -BeTrue
    }

    It 'returns one object per check with -Detailed' {
        $checks = Test-KubeletCertificate -Path $files['kubelet-client-current.pem'] -CAPath $ca -Detailed
        $checks | Should -HaveCount 9
        $checks | ForEach-Object { $_ | Should -BeOfType ([KubeletPS.KubeletCertificateCheck]) }
        $checks.Name | Should -Be @('KeyMatchesCertificate', 'ValidAt', 'ChainsToCA', 'ClientAuth', 'NodeIdentity', 'NotExpiringWithin', 'RotationNotOverdue', 'CurrentLinkUpToDate', 'KeyFilePrivate')
        $checks.Passed | Should -Not -Contain $false
        $checks.Path | Select-Object -Unique | Should -Be $files['kubelet-client-current.pem']
        $checks | Where-Object -Not Passed | Should -BeNullOrEmpty
    }

    It 'takes the certificate, key and CA from the kubeconfig when given no path: <_>' -ForEach 'kubelet.conf', 'kubelet-embedded.conf' {
        Test-KubeletCertificate -KubeconfigPath $files[$_] | Should -BeTrue
        (Test-KubeletCertificate -KubeconfigPath $files[$_] -Detailed)[0].Message | Should -Match 'matches the certificate'
    }

    It 'takes only the CA from the kubeconfig when given a path without -CAPath' {
        Test-KubeletCertificate -Path $files['kubelet-client-current.pem'] -KubeconfigPath $files['kubelet.conf'] | Should -BeTrue
        Test-KubeletCertificate -Path $files['other-ca-signed.pem'] -KubeconfigPath $files['kubelet.conf'] | Should -BeFalse
    }

    It 'checks against a different CA with -CAPath' {
        $chain = Test-KubeletCertificate -KubeconfigPath $files['kubelet.conf'] -CAPath $files['other-ca.crt'] -Detailed | Where-Object -Not Passed
        $chain.Name | Should -Be 'ChainsToCA'
        Test-KubeletCertificate -Path $files['other-ca-signed.pem'] -CAPath $files['other-ca.crt'] | Should -BeTrue
    }

    It 'fails <File> on <Failing>' -ForEach @(
        @{ File = 'expired.pem'; Failing = 'ValidAt', 'NotExpiringWithin', 'RotationNotOverdue'; Message = 'Expired on' }
        @{ File = 'not-yet-valid.pem'; Failing = 'ValidAt'; Message = 'Not yet valid' }
        @{ File = 'other-ca-signed.pem'; Failing = 'ChainsToCA'; Message = 'different CA of the same name' }
        @{ File = 'etcd-ca-signed.pem'; Failing = 'ChainsToCA'; Message = "issued by 'CN=etcd-ca'" }
        @{ File = 'mismatched-key.pem'; Failing = 'KeyMatchesCertificate'; Message = 'public keys differ' }
        @{ File = 'server-only.pem'; Failing = 'ClientAuth'; Message = 'ServerAuth without ClientAuth' }
        @{ File = 'kube-proxy.pem'; Failing = 'NodeIdentity'; Message = "'system:kube-proxy', not 'system:node:<node name>'" }
        @{ File = 'other-node.pem'; Failing = 'NodeIdentity'; Message = "for node 'node-2', not 'node-1'" }
        @{ File = 'expiring-soon.pem'; Failing = 'NotExpiringWithin', 'RotationNotOverdue'; Message = 'within the 30-day minimum' }
    ) {
        Test-KubeletCertificate -Path $files[$File] -CAPath $ca -NodeName node-1 | Should -BeFalse
        $failed = @(Test-KubeletCertificate -Path $files[$File] -CAPath $ca -NodeName node-1 -Detailed | Where-Object -Not Passed)
        $failed.Name | Should -Be $Failing
        $failed[0].Message | Should -BeLike "*$Message*"
    }

    It 'writes the failed checks to the verbose stream' {
        $verbose = Test-KubeletCertificate -Path $files['server-only.pem'] -CAPath $ca -Verbose 4>&1 |
            Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
        $verbose.Message | Should -Contain "$($files['server-only.pem']): ClientAuth failed: Extended key usage is ServerAuth without ClientAuth: kube-apiserver rejects it as a client certificate."
    }

    It 'judges validity and time left at -At' {
        $leaf = Get-KubeletCertificate -Path $files['kubelet-client-current.pem']
        Test-KubeletCertificate -Path $files['kubelet-client-current.pem'] -CAPath $ca -At $leaf.NotAfter.AddDays(1) | Should -BeFalse
        Test-KubeletCertificate -Path $files['kubelet-client-current.pem'] -CAPath $ca -At $leaf.NotBefore.AddMinutes(-1) | Should -BeFalse
        Test-KubeletCertificate -Path $files['kubelet-client-current.pem'] -CAPath $ca -At $leaf.NotAfter.AddDays(-10) | Should -BeFalse
        # 10 days before the end of a year is past 90 % of the lifetime: rotation is overdue whatever minimum is asked.
        Test-KubeletCertificate -Path $files['kubelet-client-current.pem'] -CAPath $ca -At $leaf.NotAfter.AddDays(-40) -MinimumDaysRemaining 5 | Should -BeTrue
        (Test-KubeletCertificate -Path $files['expiring-soon.pem'] -CAPath $ca -MinimumDaysRemaining 7 -Detailed | Where-Object Name -EQ NotExpiringWithin).Passed | Should -BeTrue
    }

    It 'returns one result per file a wildcard matches' {
        Test-KubeletCertificate -Path (Join-Path $pki.Directory 'rsa-pkcs*.pem') -CAPath $ca | Should -Be @($true, $true)
        Get-ChildItem $files['expired.pem'], $files['kubelet-client-current.pem'] | Test-KubeletCertificate -CAPath $ca | Should -Be @($false, $true)
    }

    It 'renders its table view' {
        $text = Test-KubeletCertificate -Path $files['server-only.pem'] -CAPath $ca -Detailed | Out-String -Width 200
        $text | Should -Match 'Certificate: .*server-only\.pem'
        $text | Should -Match 'Name\s+Passed\s+Message'
        $text | Should -Match 'ClientAuth\s+False\s+Extended key usage is ServerAuth'
    }

    It 'never outputs key material' {
        $checks = 'kubelet-client-current.pem', 'mismatched-key.pem', 'rsa-pkcs8.pem' | ForEach-Object {
            Test-KubeletCertificate -Path $files[$_] -CAPath $ca -Detailed -Verbose 4>&1
        }
        foreach ($text in ($checks | Out-String), ($checks | ConvertTo-Json -Depth 5)) {
            $text | Should -Not -MatchExactly 'PRIVATE KEY'
            $text | Should -Not -Match 'MHcCAQEE'
        }
    }

    Context 'bad input' {
        It 'stops on <Name>' -ForEach @(
            @{ Name = 'a missing certificate'; File = 'missing.pem'; Key = $null; Id = 'PathNotFound'; Category = 'ObjectNotFound'; Target = 'missing.pem' }
            @{ Name = 'a file without a certificate'; File = 'no-certificate.pem'; Key = $null; Id = 'NoCertificate'; Category = 'InvalidData'; Target = 'no-certificate.pem' }
            @{ Name = 'a file that is not PEM'; File = 'not-pem.crt'; Key = $null; Id = 'NoCertificate'; Category = 'InvalidData'; Target = 'not-pem.crt' }
            @{ Name = 'a garbage key'; File = 'kubelet-client.crt'; Key = 'garbage.key'; Id = 'KeyUnreadable'; Category = 'InvalidData'; Target = 'garbage.key' }
            @{ Name = 'an encrypted PKCS#8 key'; File = 'encrypted-key.pem'; Key = $null; Id = 'KeyEncrypted'; Category = 'SecurityError'; Target = 'encrypted-key.pem' }
            @{ Name = 'a legacy encrypted key'; File = 'legacy-encrypted-key.pem'; Key = $null; Id = 'KeyEncrypted'; Category = 'SecurityError'; Target = 'legacy-encrypted-key.pem' }
        ) {
            $path = if ($files.Contains($File)) { $files[$File] } else { Join-Path $pki.Directory $File }
            $arguments = @{ Path = $path; CAPath = $ca }
            if ($Key) { $arguments.KeyPath = $files[$Key] }
            $e = { Test-KubeletCertificate @arguments } | Should -Throw -PassThru
            $e.FullyQualifiedErrorId | Should -Be "TestKubeletCertificate$Id,KubeletPS.Commands.TestKubeletCertificateCommand"
            $e.CategoryInfo.Category | Should -Be $Category
            $e.TargetObject | Should -Be (Join-Path $pki.Directory $Target)
            $e.Exception.Message | Should -BeLike "*$Target*"
            $text = $e | Out-String
            $text | Should -Not -MatchExactly 'PRIVATE KEY-----|MHcCAQEE|   at KubeletPS'
        }

        It 'stops on a missing kubeconfig, naming it' {
            $missing = Join-Path $pki.Directory 'nope.conf'
            $e = { Test-KubeletCertificate -KubeconfigPath $missing } | Should -Throw -PassThru
            $e.FullyQualifiedErrorId | Should -Be 'TestKubeletCertificatePathNotFound,KubeletPS.Commands.TestKubeletCertificateCommand'
            $e.CategoryInfo.Category | Should -Be 'ObjectNotFound'
            $e.TargetObject | Should -Be $missing
        }
    }
}
