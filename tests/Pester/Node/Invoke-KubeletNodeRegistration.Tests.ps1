BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../TestSupport.psm1') -Force
    Import-Module (Get-TestModulePath) -Force
    $dir = Join-Path ([IO.Path]::GetTempPath()) "kubeletps-reg-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
    $cluster = Start-TestCluster -Directory $dir -Node node1, node2
    $reader = @{ RuntimeEndpoint = "unix://$dir/no-runtime.sock"; RootDirectory = $dir }
    $common = $reader + @{ NodeIp = '10.9.8.7' }
}

AfterAll {
    Stop-TestCluster $cluster
    Remove-Item -Recurse -Force $dir -ErrorAction Ignore
}

Describe 'Invoke-KubeletNodeRegistration' {
    It 'registers a new node and returns it' {
        $node = Invoke-KubeletNodeRegistration -KubeconfigPath "$dir/node-node1.conf" -NodeName node1 -Label 'topology.kubernetes.io/zone=z1' -Taint 'dedicated=test:NoSchedule' @common -Confirm:$false -WarningAction SilentlyContinue
        $node.GetType().FullName | Should -Be 'KubeletPS.Output.KubeletNodeInfo'
        $node.Name | Should -Be 'node1'
        $node.Created | Should -BeTrue
        $node.InternalIP | Should -Be '10.9.8.7'
        $node.Labels['kubernetes.io/hostname'] | Should -Be 'node1'
        $node.Labels['topology.kubernetes.io/zone'] | Should -Be 'z1'
        $node.Taints | Should -Contain 'dedicated=test:NoSchedule'
        $node.Capacity['pods'] | Should -Be '110'
        $node.Capacity['cpu'] | Should -Be ([string](& nproc))
        $node.Version | Should -BeLike 'v1.32.0+kubeletps.*'
    }

    It 'reports the node NotReady, with the reason, when the container runtime is down' {
        $node = Get-KubeletNode -Name node1 -KubeconfigPath "$dir/node-node1.conf" @reader
        $node.Status | Should -Be 'NotReady'
        $ready = $node.Conditions | Where-Object Type -eq 'Ready'
        $ready.Reason | Should -Be 'KubeletNotReady'
        $ready.Message | Should -Match 'container runtime is down.*no-runtime\.sock'
    }

    It 'reconciles an existing node instead of creating it' {
        $node = Invoke-NodeRegistration -KubeconfigPath "$dir/node-node1.conf" -NodeName node1 @common -Confirm:$false -WarningAction SilentlyContinue
        $node.Created | Should -BeFalse
        $node.Labels['topology.kubernetes.io/zone'] | Should -Be 'z1'
    }

    It 'is seen by kubectl as an administrator would look' {
        $json = & kubectl --kubeconfig "$dir/admin.conf" get node node1 -o json | ConvertFrom-Json
        $LASTEXITCODE | Should -Be 0
        $json.metadata.labels.'kubernetes.io/os' | Should -Be 'linux'
        ($json.status.addresses | Where-Object type -eq 'InternalIP').address | Should -Be '10.9.8.7'
    }

    It 'changes nothing with -WhatIf' {
        $out = Invoke-KubeletNodeRegistration -KubeconfigPath "$dir/node-node2.conf" -NodeName node2 @common -WhatIf -WarningAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        & kubectl --kubeconfig "$dir/admin.conf" get node node2 2>&1 | Out-Null
        $LASTEXITCODE | Should -Not -Be 0
    }

    It 'refuses a certificate for another node with a PermissionDenied error naming the identity' {
        $err = Get-ErrorRecord { Invoke-KubeletNodeRegistration -KubeconfigPath "$dir/node-node1.conf" -NodeName node2 @common -Confirm:$false -WarningAction SilentlyContinue }
        $err.FullyQualifiedErrorId | Should -BeLike 'InvokeKubeletNodeRegistrationApiRequestFailed,*'
        $err.CategoryInfo.Category | Should -Be 'PermissionDenied'
        $err.Exception.Message | Should -Match 'system:node:node1 may not create nodes "node2"'
    }

    It 'refuses a node name that is not a DNS-1123 subdomain' {
        $err = Get-ErrorRecord { Invoke-KubeletNodeRegistration -KubeconfigPath "$dir/node-node1.conf" -NodeName 'bad_name' @common -Confirm:$false }
        $err.CategoryInfo.Category | Should -Be 'InvalidArgument'
        $err.Exception.Message | Should -Match 'DNS-1123'
    }
}

Describe 'Get-KubeletNode' {
    It 'shows the node as a table with its conditions' {
        $node = Get-KubeletNode node1 -KubeconfigPath "$dir/admin.conf" @reader
        @($node.Conditions).Count | Should -Be 4
        ($node.Conditions.Type | Sort-Object) -join ',' | Should -Be 'DiskPressure,MemoryPressure,PIDPressure,Ready'
        $table = $node | Out-String -Width 200
        $table | Should -Match 'node1\s+NotReady'
        ($node.Conditions | Out-String -Width 200) | Should -Match 'KubeletHasSufficientMemory'
    }

    It 'writes a non-terminating ObjectNotFound error for a node that is not registered' {
        $found = Get-KubeletNode -Name nosuchnode, node1 -KubeconfigPath "$dir/admin.conf" @reader -ErrorVariable errs -ErrorAction SilentlyContinue
        $found.Name | Should -Be 'node1'
        $errs[0].FullyQualifiedErrorId | Should -BeLike 'GetKubeletNodeNotFound,*'
        $errs[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $errs[0].TargetObject | Should -Be 'nosuchnode'
    }
}
