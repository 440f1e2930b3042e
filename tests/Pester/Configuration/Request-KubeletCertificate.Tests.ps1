BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../TestSupport.psm1') -Force
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
        $err = Get-ErrorRecord { Request-KubeletCertificate -BootstrapKubeconfigPath "$dir/node-other.conf" -KubeconfigPath "$node/kubelet.conf" -CertificateDirectory "$node/pki" -NodeName w2 -TimeoutSec 2 -Confirm:$false }
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
        $err = Get-ErrorRecord { Request-KubeletCertificate -BootstrapKubeconfigPath $bootstrapConf -KubeconfigPath "$node/kubelet.conf" -CertificateDirectory "$node/pki" -NodeName w3 -Confirm:$false }
        $err.FullyQualifiedErrorId | Should -BeLike 'RequestKubeletCertificateUnauthorized,*'
        $err.CategoryInfo.Category | Should -Be 'AuthenticationError'
        $err.Exception.Message | Should -Match "bootstrap token `"$id`""
        ($err | Out-String) + $err.Exception.ToString() | Should -Not -Match $secret
    }

    Context '-Serving' {
        It 'changes nothing with -WhatIf' {
            $node = Join-Path $dir 'serving-whatif'
            $before = (& kubectl --kubeconfig "$dir/admin.conf" get csr -o name).Count
            Request-KubeletCertificate -Serving -KubeconfigPath "$dir/node-other.conf" -CertificateDirectory "$node/pki" -NodeName other -WhatIf | Should -BeNullOrEmpty
            Test-Path "$node/pki" | Should -BeFalse
            (& kubectl --kubeconfig "$dir/admin.conf" get csr -o name).Count | Should -Be $before
        }

        It 'waits for an administrator to approve the kubelet-serving CSR and writes kubelet-server-current.pem' {
            $node = Join-Path $dir 'serving'
            # The administrator: approves the kubelet-serving CSR once it appears, as kubectl certificate approve does.
            Set-Content "$dir/approve.sh" @"
for i in `$(seq 120); do
  n=`$(kubectl --kubeconfig '$dir/admin.conf' get csr -o jsonpath='{range .items[*]}{.metadata.name} {.spec.signerName}{"\n"}{end}' | awk '`$2 == "kubernetes.io/kubelet-serving" { print `$1; exit }')
  if [ -n "`$n" ]; then kubectl --kubeconfig '$dir/admin.conf' certificate approve "`$n"; exit `$?; fi
  sleep 0.5
done
echo 'no kubelet-serving CSR appeared' >&2
exit 1
"@
            $approver = Start-Process bash -PassThru -ArgumentList "$dir/approve.sh" -RedirectStandardOutput "$dir/approver.out" -RedirectStandardError "$dir/approver.err"
            $result = Request-KubeletCertificate -Serving -KubeconfigPath "$dir/node-other.conf" -CertificateDirectory "$node/pki" -NodeName other `
                -IPAddress 10.9.8.7 -DnsName other, other.example -TimeoutSec 30 -Confirm:$false -Verbose 4>&1
            $approver.WaitForExit(10000) | Should -BeTrue
            $approver.ExitCode | Should -Be 0 -Because (Get-Content -Raw "$dir/approver.err")
            $verbose = $result | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
            $info = $result | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] }
            ($verbose.Message -join "`n") | Should -Match 'An administrator must approve it: kubectl certificate approve csr-'
            $info.GetType().FullName | Should -Be 'KubeletPS.Output.KubeletCertificateRequestInfo'
            $info.Subject | Should -Be 'CN=system:node:other, O=system:nodes'
            $info.CertificatePath | Should -Be "$node/pki/kubelet-server-current.pem"
            $info.CertificateFile | Should -Match 'kubelet-server-\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d\.pem$'
            (Get-Item $info.CertificatePath).LinkTarget | Should -Be $info.CertificateFile
            (Get-Item $info.CertificateFile).UnixMode | Should -Be '-rw-------'
            $csr = & kubectl --kubeconfig "$dir/admin.conf" get csr $info.CsrName -o json | ConvertFrom-Json
            $csr.spec.signerName | Should -Be 'kubernetes.io/kubelet-serving'
            $csr.spec.username | Should -Be 'system:node:other'
            $csr.status.conditions[0].type | Should -Be 'Approved'
            $csr.status.conditions[0].reason | Should -Be 'KubectlApprove'
            $cert = [System.Security.Cryptography.X509Certificates.X509Certificate2]::CreateFromPem((Get-Content -Raw $info.CertificateFile))
            $san = $cert.Extensions | Where-Object { $_ -is [System.Security.Cryptography.X509Certificates.X509SubjectAlternativeNameExtension] }
            @($san.EnumerateDnsNames()) | Should -Be @('other', 'other.example')
            @($san.EnumerateIPAddresses() | ForEach-Object ToString) | Should -Be @('10.9.8.7')
            $eku = $cert.Extensions | Where-Object { $_ -is [System.Security.Cryptography.X509Certificates.X509EnhancedKeyUsageExtension] }
            @($eku.EnhancedKeyUsages | ForEach-Object Value) | Should -Be @('1.3.6.1.5.5.7.3.1')
        }

        It 'rejects an -IPAddress that is not an address, naming it' {
            $err = Get-ErrorRecord { Request-KubeletCertificate -Serving -KubeconfigPath "$dir/node-other.conf" -CertificateDirectory "$dir/bad/pki" -NodeName other -IPAddress 'not-an-ip' -Confirm:$false }
            $err.FullyQualifiedErrorId | Should -BeLike 'RequestKubeletCertificateInvalidArgument,*'
            $err.Exception.Message | Should -Match "'not-an-ip' is not an IP address"
            $err.TargetObject | Should -Be 'not-an-ip'
        }
    }
}
