# Join-KubeletCluster -Install against a real systemd: a Debian machine booted in systemd-nspawn
# (Start-TestSystemd), the built module running inside it. The join writes kubeadm's files at their
# real paths inside the machine, installs the agent's unit, enables and starts it; the agent then
# registers the node with the test API server on the host (nspawn shares the host's network; there
# is no containerd inside, so the node runs no pods).
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../TestSupport.psm1') -Force
    Import-Module (Get-TestModulePath) -Force
    $base = Join-Path '/tmp' ('kpsj-' + [guid]::NewGuid().ToString('N').Substring(0, 6))
    $null = New-Item -ItemType Directory -Path $base
    $machine = Start-TestSystemd -BindReadOnly $base
    if (-not $machine.SkipReason) {
        $cluster = Start-TestCluster -Directory (Join-Path $base 'cluster') -KubeletConfig kubeadm -PrintJoinCommand
        $admin = Join-Path $cluster.Directory 'admin.conf'
        # "Join-KubeletCluster -Server 127.0.0.1:PORT -Token ID.SECRET -CACertHash sha256:HEX"
        $parts = $cluster.JoinCommand -split ' '
        $server, $token, $hash = $parts[2], $parts[4], $parts[6]
    }
}

AfterAll {
    Stop-TestSystemd $machine
    if ($cluster) { Stop-TestCluster $cluster }
    Remove-Item -Recurse -Force $base -ErrorAction Ignore
}

Describe 'Join-KubeletCluster -Install' {
    It 'inside systemd: joins with kubeadm''s paths, installs, enables and starts the agent, and the node registers' {
        if ($machine.SkipReason) { Set-ItResult -Skipped -Because $machine.SkipReason; return }
        $joined = Invoke-PwshInTestSystemd $machine "Join-KubeletCluster -Server $server -Token $token -CACertHash $hash -NodeName nspj -Install -Confirm:`$false" -TimeoutSeconds 300
        $joined.ErrorId | Should -BeNullOrEmpty -Because $joined.Message
        $joined.NodeName | Should -Be 'nspj'
        $joined.KubeconfigPath | Should -Be '/etc/kubernetes/kubelet.conf'

        # kubeadm join's files, inside the machine: credentials 0600, the bootstrap kubeconfig gone.
        $kubeletConf = Join-Path $machine.Root 'etc/kubernetes/kubelet.conf'
        (Get-Item $kubeletConf).UnixFileMode | Should -Be ([System.IO.UnixFileMode]'UserRead, UserWrite')
        Test-Path (Join-Path $machine.Root 'etc/kubernetes/bootstrap-kubelet.conf') | Should -BeFalse
        Test-Path (Join-Path $machine.Root 'var/lib/kubelet/config.yaml') | Should -BeTrue
        $current = Join-Path $machine.Root 'var/lib/kubelet/pki/kubelet-client-current.pem'
        (Get-Item $current).LinkTarget | Should -Match 'kubelet-client-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}\.pem$'

        # The unit is installed, enabled and running the agent on those files.
        $agent = Invoke-PwshInTestSystemd $machine 'Get-KubeletService kubeletps'
        $agent.UnitFileState | Should -Be 'enabled'
        $agent.ActiveState | Should -Be 'active'
        $agent.MainPID | Should -BeGreaterThan 0
        $agent.KubeconfigPath | Should -Be '/etc/kubernetes/kubelet.conf'
        $agent.ConfigPath | Should -Be '/var/lib/kubelet/config.yaml'
        Wait-Until { (& kubectl --kubeconfig $admin get node nspj -o name 2>$null) -eq 'node/nspj' } 'node nspj is registered by the joined agent' -Seconds 120

        # The token's secret is nowhere in what the join printed.
        ($joined | ConvertTo-Json -Depth 4) | Should -Not -Match ([regex]::Escape($token.Split('.')[1]))
    }
}
