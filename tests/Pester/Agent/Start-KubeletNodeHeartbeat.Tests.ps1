BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../TestSupport.psm1') -Force
    Import-Module (Get-TestModulePath) -Force
    $dir = Join-Path ([IO.Path]::GetTempPath()) "kubeletps-hb-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
    $cluster = Start-TestCluster -Directory $dir -Node node3
    # A short lease (renewed every second) so that a few seconds show several renewals.
    $config = Join-Path $dir 'config.yaml'
    Set-Content $config "apiVersion: kubelet.config.k8s.io/v1beta1`nkind: KubeletConfiguration`nnodeLeaseDurationSeconds: 4`n"
    $common = @{ KubeconfigPath = "$dir/node-node3.conf"; ConfigPath = $config; RuntimeEndpoint = "unix://$dir/no-runtime.sock"; RootDirectory = $dir; NodeIp = '10.9.8.3' }
}

AfterAll {
    Stop-TestCluster $cluster
    Remove-Item -Recurse -Force $dir -ErrorAction Ignore
}

Describe 'Start-KubeletNodeHeartbeat' {
    It 'does nothing with -WhatIf' {
        Start-KubeletNodeHeartbeat -NodeName node3 @common -WhatIf | Should -BeNullOrEmpty
        & kubectl --kubeconfig "$dir/admin.conf" get lease -n kube-node-lease node3 2>&1 | Out-Null
        $LASTEXITCODE | Should -Not -Be 0
    }

    It 'registers the node, renews its lease and says so in the verbose stream' {
        $verbose = Start-NodeHeartbeat -NodeName node3 @common -DurationSec 4 -Confirm:$false -Verbose -WarningAction SilentlyContinue 4>&1
        $node = $verbose | Where-Object { $_ -is [KubeletPS.Output.KubeletNodeInfo] }
        $node.Name | Should -Be 'node3'
        $messages = ($verbose | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Message
        @($messages | Where-Object { $_ -match 'Renewed lease kube-node-lease/node3' }).Count | Should -BeGreaterOrEqual 2
        $messages | Should -Contain ($messages | Where-Object { $_ -match 'renewing its lease every 1 s' })

        $lease = & kubectl --kubeconfig "$dir/admin.conf" get lease -n kube-node-lease node3 -o json | ConvertFrom-Json
        $lease.spec.holderIdentity | Should -Be 'node3'
        $lease.spec.leaseDurationSeconds | Should -Be 4
        $lease.metadata.ownerReferences[0].kind | Should -Be 'Node'

        $reader = $common.Clone(); $reader.Remove('NodeIp')
        $seen = Get-KubeletNode node3 @reader
        $seen.LeaseHolder | Should -Be 'node3'
        $seen.LeaseRenewTime | Should -Not -BeNullOrEmpty
    }

    It 'warns once when it starts about each config field it does not act on, with file and line' {
        $unused = Join-Path $dir 'not-in-effect.yaml'
        Set-Content $unused "apiVersion: kubelet.config.k8s.io/v1beta1`nkind: KubeletConfiguration`nnodeLeaseDurationSeconds: 4`nreadOnlyPort: 10255`n"
        $parameters = $common.Clone(); $parameters.ConfigPath = $unused
        Start-NodeHeartbeat -NodeName node3 @parameters -WhatIf -WarningVariable whatIfWarnings -WarningAction SilentlyContinue
        @($whatIfWarnings | Where-Object { "$_" -match 'not in effect' }).Count | Should -Be 0
        # Several renewals in 3 s (every second), one warning.
        $null = Start-NodeHeartbeat -NodeName node3 @parameters -DurationSec 3 -Confirm:$false -WarningVariable warnings -WarningAction SilentlyContinue
        $notInEffect = @($warnings | Where-Object { "$_" -match 'not in effect' })
        $notInEffect.Count | Should -Be 1 -Because ($warnings -join '; ')
        "$($notInEffect[0])" | Should -BeLike "$($unused):4:1: readOnlyPort is set but not in effect: *read-only port*"
    }
}
