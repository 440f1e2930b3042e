BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../TestSupport.psm1') -Force
    Import-Module (Get-TestModulePath) -Force
    $dir = Join-Path ([IO.Path]::GetTempPath()) "kubeletps-api-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
    $cluster = Start-TestCluster -Directory $dir -Node node1
    $nodeConf = Join-Path $dir 'node-node1.conf'
    $untrusted = New-UntrustedKubeconfig -Kubeconfig $nodeConf -Directory $dir
}

AfterAll {
    Stop-TestCluster $cluster
    Remove-Item -Recurse -Force $dir -ErrorAction Ignore
}

Describe 'Test-KubeletApiConnection' {
    It 'is true for a node whose certificate the cluster accepts' {
        Test-KubeletApiConnection -KubeconfigPath $nodeConf | Should -BeTrue
    }

    It 'reports each check with -Detailed' {
        $checks = Test-KubeletApiConnection -KubeconfigPath $nodeConf -Detailed
        $checks.Name | Should -Be @('ServerTrusted', 'AnonymousRefused', 'CredentialsAccepted', 'NodeAuthorized')
        $checks | ForEach-Object { $_.Passed | Should -BeTrue -Because $_.Message }
        ($checks | Where-Object Name -eq 'AnonymousRefused').Message | Should -Match 'forbidden: User "system:anonymous" cannot get path "/"'
        ($checks | Where-Object Name -eq 'NodeAuthorized').Message | Should -Match 'system:node:node1 may get node node1'
        $checks[0].GetType().FullName | Should -Be 'KubeletPS.Output.KubeletApiCheck'
    }

    It 'takes the kubeconfig path from the pipeline' {
        [pscustomobject]@{ KubeconfigPath = $nodeConf } | Test-KubeletApiConnection | Should -BeTrue
    }

    It 'fails ServerTrusted for a server the cluster CA did not sign, and says why' {
        Test-KubeletApiConnection -KubeconfigPath $untrusted | Should -BeFalse
        $check = Test-KubeletApiConnection -KubeconfigPath $untrusted -Detailed
        @($check).Count | Should -Be 1
        $check.Name | Should -Be 'ServerTrusted'
        $check.Passed | Should -BeFalse
        $check.Message | Should -Match 'not trusted.*does not verify against the cluster CA \(CN=other-ca\)'
    }

    It 'fails within the timeout, naming the address, when the server is unreachable' {
        $closed = New-UnreachableKubeconfig -Kubeconfig $nodeConf -Directory $dir
        $check = Test-KubeletApiConnection -KubeconfigPath $closed -Detailed -TimeoutSec 5
        $check.Passed | Should -BeFalse
        $check.Message | Should -Match 'Cannot reach the API server https://127\.0\.0\.1:1\b'
    }

    It 'is an InvalidData error for a kubeconfig that is not one' {
        $bad = Join-Path $dir 'bad.conf'
        Set-Content $bad "apiVersion: v1`nkind: Config`ncurrent-context: missing`n"
        $err = Get-ErrorRecord { Test-KubeletApiConnection -KubeconfigPath $bad }
        $err.FullyQualifiedErrorId | Should -BeLike 'TestKubeletApiConnectionInvalidKubeconfig,*'
        $err.CategoryInfo.Category | Should -Be 'InvalidData'
        $err.TargetObject | Should -Be $bad
    }
}

Describe 'Invoke-KubeletApiRequest' {
    It 'gets 403 Forbidden as system:anonymous' {
        $r = Invoke-KubeletApiRequest -Path / -Anonymous -KubeconfigPath $nodeConf
        $r.StatusCode | Should -Be 403
        $r.User | Should -Be 'system:anonymous'
        $r.Kind | Should -Be 'Status'
        $r.Reason | Should -Be 'Forbidden'
        $r.Message | Should -Be 'forbidden: User "system:anonymous" cannot get path "/"'
        $r.Body.code | Should -Be 403
    }

    It 'gets APIVersions with the node credentials' {
        $r = Invoke-KubeletApiRequest -KubeconfigPath $nodeConf
        $r.StatusCode | Should -Be 200
        $r.User | Should -Be 'system:node:node1'
        $r.Body.kind | Should -Be 'APIVersions'
        $r.Body.versions | Should -Contain 'v1'
        $r.CertificateVerified | Should -BeTrue
    }

    It 'shows the answer as a table' {
        $text = Invoke-KubeletApiRequest -Path / -Anonymous -KubeconfigPath $nodeConf | Out-String
        $text | Should -Match 'StatusCode'
        $text | Should -Match '403'
    }

    It 'refuses an untrusted server with a SecurityError' {
        $err = Get-ErrorRecord { Invoke-KubeletApiRequest -KubeconfigPath $untrusted }
        $err.FullyQualifiedErrorId | Should -BeLike 'InvokeKubeletApiRequestFailed,*'
        $err.CategoryInfo.Category | Should -Be 'SecurityError'
        $err.Exception.Message | Should -Match 'is not trusted'
    }

    It 'answers with -SkipCertificateCheck, with a warning' {
        $r = Invoke-KubeletApiRequest -KubeconfigPath $untrusted -SkipCertificateCheck -WarningVariable warnings -WarningAction SilentlyContinue
        $r.StatusCode | Should -Be 200
        $r.CertificateVerified | Should -BeFalse
        $warnings | Should -Match 'not verified'
    }

    It 'is a ConnectionError naming the address when the server is unreachable' {
        $closed = New-UnreachableKubeconfig -Kubeconfig $nodeConf -Directory $dir
        $err = Get-ErrorRecord { Invoke-KubeletApiRequest -KubeconfigPath $closed -TimeoutSec 5 }
        $err.CategoryInfo.Category | Should -Be 'ConnectionError'
        $err.Exception.Message | Should -Match 'https://127\.0\.0\.1:1'
    }

    It 'does not send a DELETE with -WhatIf' {
        $r = Invoke-KubeletApiRequest -Method DELETE -Path /api/v1/nodes/node1 -KubeconfigPath $nodeConf -WhatIf
        $r | Should -BeNullOrEmpty
    }

    It 'lets a node write only what the Node authorizer allows' {
        $body = '{"apiVersion":"v1","kind":"Node","metadata":{"name":"node2"}}'
        $r = Invoke-KubeletApiRequest -Method POST -Path /api/v1/nodes -Body $body -KubeconfigPath $nodeConf -Confirm:$false
        $r.StatusCode | Should -Be 403
        $r.Message | Should -Match 'node2'
    }
}
