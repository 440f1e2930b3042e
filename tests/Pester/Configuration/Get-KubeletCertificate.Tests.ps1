BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../TestSupport.psm1') -Force
    Import-Module (Get-TestModulePath) -Force
    $pki = New-TestPki -Directory (Join-Path $TestDrive 'pki')
    $files = $pki.Files
}

Describe 'Get-KubeletCertificate' {
    It 'shows the node identity of kubelet-client-current.pem and finds its key in the same file' {
        $info = Get-KubeletCertificate -Path $files['kubelet-client-current.pem']
        $info | Should -HaveCount 1
        $info | Should -BeOfType ([KubeletPS.KubeletCertificateInfo])
        $info.NodeName | Should -Be 'node-1'
        $info.Groups | Should -Be @('system:nodes')
        $info.Subject | Should -Be 'CN=system:node:node-1, O=system:nodes'
        $info.Issuer | Should -Be 'CN=kubernetes'
        $info.KeyAlgorithm | Should -Be 'EC'
        $info.Curve | Should -Be 'P-256'
        $info.ExtendedKeyUsages | Should -Be @('ClientAuth')
        $info.HasPrivateKey | Should -BeTrue
        $info.KeySource | Should -Be $files['kubelet-client-current.pem']
        $info.DaysRemaining | Should -BeGreaterThan 360
        $info.NotAfter.Kind | Should -Be 'Utc'
    }

    It 'prints the same SHA-256 fingerprint and serial as openssl' -Skip:(-not (Get-Command openssl -ErrorAction Ignore)) {
        $info = Get-KubeletCertificate -Path $files['kubelet-client.crt']
        $fingerprint = (openssl x509 -in $files['kubelet-client.crt'] -noout -fingerprint -sha256) -replace '^.*Fingerprint=', ''
        $info.Sha256Fingerprint | Should -Be $fingerprint
        $serial = (openssl x509 -in $files['kubelet-client.crt'] -noout -serial) -replace '^serial=', ''
        $info.SerialNumber | Should -Be $serial
        $info.HasPrivateKey | Should -BeFalse
    }

    It 'reads an RSA certificate with a separate PKCS#1 key' {
        $info = Get-KubeletCertificate -Path $files['rsa.crt'] -KeyPath $files['rsa-pkcs1.key']
        $info.KeyAlgorithm | Should -Be 'RSA'
        $info.KeySize | Should -Be 2048
        $info.KeySource | Should -Be $files['rsa-pkcs1.key']
    }

    It 'expands wildcards and takes files from Get-ChildItem' {
        (Get-KubeletCertificate -Path (Join-Path $pki.Directory 'rsa-pkcs*.pem')).Path | Should -Be @($files['rsa-pkcs1.pem'], $files['rsa-pkcs8.pem'])
        $chain = Get-ChildItem $files['chain.pem'] | Get-KubeletCertificate
        $chain | Should -HaveCount 2
        $chain[0].Index | Should -Be 0
        $chain[1].IsCA | Should -BeTrue
    }

    It 'reads the client certificate a kubeconfig names, by path or embedded' {
        (Get-KubeletCertificate -KubeconfigPath $files['kubelet.conf']).Path | Should -Be $files['kubelet-client-current.pem']
        $embedded = Get-KubeletCertificate -KubeconfigPath $files['kubelet-embedded.conf']
        $embedded.Path | Should -Be "client-certificate-data embedded in $($files['kubelet-embedded.conf'])"
        $embedded.NodeName | Should -Be 'node-1'
    }

    It 'renders its table view' {
        $text = Get-KubeletCertificate -Path $files['kubelet-client-current.pem'] | Out-String -Width 200
        $text | Should -Match 'Subject\s+NodeName\s+NotAfter\s+DaysRemaining\s+KeyAlgorithm'
        $text | Should -Match 'CN=system:node:node-1, O=system:nodes\s+node-1\s+\d{4}-\d\d-\d\d\s+\d+\s+EC P-256'
    }

    It 'never outputs key material' {
        $all = Get-KubeletCertificate -Path $files['kubelet-client-current.pem'], $files['rsa-pkcs8.pem'], $files['rsa-pkcs1.pem']
        foreach ($text in ($all | Format-List * | Out-String), ($all | ConvertTo-Json -Depth 5)) {
            $text | Should -Not -MatchExactly 'PRIVATE KEY'
            $text | Should -Not -Match 'MHcCAQEE' # the start of every SEC1 P-256 key body
        }
    }

    Context 'bad input' {
        It 'stops on a missing path, naming it' {
            $missing = Join-Path $pki.Directory 'missing.pem'
            $e = { Get-KubeletCertificate -Path $missing } | Should -Throw -PassThru
            $e.FullyQualifiedErrorId | Should -Be 'GetKubeletCertificatePathNotFound,KubeletPS.Commands.GetKubeletCertificateCommand'
            $e.CategoryInfo.Category | Should -Be 'ObjectNotFound'
            $e.TargetObject | Should -Be $missing
        }

        It 'reports an encrypted key as a security error for that file and goes on' {
            $out = Get-KubeletCertificate -Path $files['encrypted-key.pem'], $files['kubelet-client-current.pem'] -ErrorVariable errors -ErrorAction SilentlyContinue
            $out | Should -HaveCount 1
            $errors | Should -HaveCount 1
            $errors[0].FullyQualifiedErrorId | Should -Be 'GetKubeletCertificateKeyEncrypted,KubeletPS.Commands.GetKubeletCertificateCommand'
            $errors[0].CategoryInfo.Category | Should -Be 'SecurityError'
            $errors[0].TargetObject | Should -Be $files['encrypted-key.pem']
            $errors[0].Exception.Message | Should -Match 'cannot use encrypted keys'
            ($errors[0] | Out-String) | Should -Not -Match 'StackTrace|   at '
        }

        It 'reports a file without a certificate and a garbage key as invalid data' {
            $e = { Get-KubeletCertificate -Path $files['no-certificate.pem'] -ErrorAction Stop } | Should -Throw -PassThru
            $e.FullyQualifiedErrorId | Should -Be 'GetKubeletCertificateNoCertificate,KubeletPS.Commands.GetKubeletCertificateCommand'
            $e.CategoryInfo.Category | Should -Be 'InvalidData'
            $e = { Get-KubeletCertificate -Path $files['kubelet-client.crt'] -KeyPath $files['garbage.key'] -ErrorAction Stop } | Should -Throw -PassThru
            $e.FullyQualifiedErrorId | Should -Be 'GetKubeletCertificateKeyUnreadable,KubeletPS.Commands.GetKubeletCertificateCommand'
            $e.TargetObject | Should -Be $files['garbage.key']
            $e.Exception.Message | Should -Match 'block 1 \(EC PRIVATE KEY, line 1\)'
        }
    }
}
