# Test-KubeletNode on a joined node inside a real systemd (Start-TestSystemdNode): a Debian machine in
# systemd-nspawn whose containerd (Debian's package) is an enabled, active unit, joined to the test API
# server with Join-KubeletCluster -Install, so the agent's unit runs on kubeadm's files. One machine for
# every It: healthy first (every check passes, Services included), then with containerd stopped, then
# the agent's pod events read back from the machine's journal.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../TestSupport.psm1') -Force
    Import-Module (Get-TestModulePath) -Force
    # Pods cannot run on the machine's own containerd here: nspawn mounts the host's cgroup v1
    # controllers read-only, so runc cannot make the pod's cgroups. The pod-event Context points the
    # agent at a private containerd on the host instead, its socket bound into the machine.
    $containerd = Start-TestContainerd
    $node = Start-TestSystemdNode -BindReadOnly $containerd.Directory

    function Invoke-NodeTest([string] $Arguments = '') {
        # Test-KubeletNode with its defaults (kubeadm's paths), run inside; each check as Path, Result, Message.
        $script = "Import-Module '$($node.Pester)'; `$run = Test-KubeletNode $Arguments; " +
            "`$run.Tests | ForEach-Object { [pscustomobject]@{ Path = `$_.ExpandedPath; Result = [string]`$_.Result; Message = [string](`$_.ErrorRecord | Select-Object -First 1 | ForEach-Object { `$_.Exception.Message }) } }"
        $checks = @(Invoke-PwshInTestSystemd $node.Machine $script -TimeoutSeconds 300)
        if ($checks.Count -eq 1 -and $checks[0].PSObject.Properties['ErrorId']) { throw "Test-KubeletNode in $($node.NodeName) failed: $($checks[0].ErrorId): $($checks[0].Message)" }
        $checks
    }

    function Get-ExpectedHealthy($Checks) {
        # Every check passes; the kernel's settings are the host's (nspawn shares its kernel), read here;
        # AllFieldsInEffect is Inconclusive while kubeadm's config.yaml sets a field the agent does not act on.
        $expected = [ordered]@{}
        foreach ($check in $Checks) { $expected[$check.Path] = 'Passed' }
        $bridge = '/proc/sys/net/bridge/bridge-nf-call-iptables'
        if (@(Get-Content /proc/swaps | Select-Object -Skip 1 | Where-Object { $_.Trim() }).Count -gt 0) { $expected['Preflight.Swap'] = 'Failed' }
        if (-not ((Test-Path /sys/module/br_netfilter) -or (Test-Path $bridge))) { $expected['Preflight.BridgeNetfilter'] = 'Failed' }
        if ((Get-Content $bridge -ErrorAction Ignore) -ne '1') { $expected['Preflight.BridgeNfCallIptables'] = 'Failed' }
        if ((Get-Content /proc/sys/net/ipv4/ip_forward) -ne '1') { $expected['Preflight.IPv4Forward'] = 'Failed' }
        $notInEffect = @(Invoke-PwshInTestSystemd $node.Machine '(Get-KubeletConfig -LiteralPath /var/lib/kubelet/config.yaml).NotInEffect')
        if ($notInEffect.Count -gt 0) { $expected['Configuration.AllFieldsInEffect'] = 'Inconclusive' }
        $expected
    }

    function Format-Outcome($Checks) { ($Checks | ForEach-Object { "$($_.Path)=$($_.Result)" }) -join "`n" }
}

AfterAll {
    Stop-TestSystemdNode $node
    Stop-TestContainerd -Containerd $containerd
}

Describe 'Test-KubeletNode inside systemd' {
    Context 'on a joined node whose containerd and agent are enabled, active units' {
        BeforeAll {
            if (-not $node.SkipReason) { $healthy = Invoke-NodeTest '-OutputFormat NUnitXml -OutputPath /root/node-report.xml' }
        }

        It 'passes every check, Services included' {
            if ($node.SkipReason) { Set-ItResult -Skipped -Because $node.SkipReason; return }
            @($healthy.Path | ForEach-Object { $_.Split('.')[0] } | Select-Object -Unique) | Should -Be @('Preflight', 'Runtime', 'Configuration', 'Certificates', 'ApiServer', 'Node', 'Services')
            $expected = Get-ExpectedHealthy $healthy
            Format-Outcome $healthy | Should -Be (($expected.GetEnumerator() | ForEach-Object { "$($_.Key)=$($_.Value)" }) -join "`n")
            @($healthy | Where-Object Result -EQ 'Skipped').Count | Should -Be 0
            ($healthy | Where-Object Path -EQ 'Services.ContainerdService').Result | Should -Be 'Passed'
            ($healthy | Where-Object Path -EQ 'Services.AgentService').Result | Should -Be 'Passed'
        }

        It 'writes its NUnit report inside the machine, one test-case per check' {
            if ($node.SkipReason) { Set-ItResult -Skipped -Because $node.SkipReason; return }
            $xml = [xml](Get-Content -Raw (Join-Path $node.Machine.Root 'root/node-report.xml'))
            $cases = @($xml.SelectNodes('//test-case'))
            ($cases.name | Sort-Object) -join ',' | Should -Be (($healthy.Path | Sort-Object) -join ',')
            ($cases | Where-Object name -EQ 'Services.ContainerdService').result | Should -Be 'Success'
        }
    }

    Context 'with containerd stopped by systemctl' {
        BeforeAll {
            if (-not $node.SkipReason) {
                $null = Invoke-InTestSystemd $node.Machine systemctl stop containerd
                # Node.Ready follows the runtime through the agent's next status update: wait for it, so
                # the run below reads the node as it is with the runtime down.
                $admin, $name = $node.Admin, $node.NodeName
                Wait-Until { (& kubectl --kubeconfig $admin get node $name -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>$null) -eq 'False' } "node $name is NotReady with containerd stopped" -Seconds 120
                $broken = Invoke-NodeTest
            }
        }

        AfterAll {
            if (-not $node.SkipReason) { $null = Invoke-InTestSystemd $node.Machine systemctl start containerd }
        }

        It 'fails exactly the runtime socket, the node''s Ready and the containerd service, skipping what needs the runtime' {
            if ($node.SkipReason) { Set-ItResult -Skipped -Because $node.SkipReason; return }
            $expected = Get-ExpectedHealthy $broken
            $expected['Runtime.CriSocketReachable'] = 'Failed'
            $expected['Node.Ready'] = 'Failed'
            $expected['Services.ContainerdService'] = 'Failed'
            foreach ($path in 'Preflight.CgroupDriver', 'Runtime.RuntimeReady', 'Runtime.NetworkReady', 'Runtime.SandboxImagePresent') { $expected[$path] = 'Skipped' }
            Format-Outcome $broken | Should -Be (($expected.GetEnumerator() | ForEach-Object { "$($_.Key)=$($_.Value)" }) -join "`n")
        }

        It 'says in each failure what is wrong and what to do' {
            if ($node.SkipReason) { Set-ItResult -Skipped -Because $node.SkipReason; return }
            $message = @{}; foreach ($check in $broken) { $message[$check.Path] = $check.Message }
            $message['Runtime.CriSocketReachable'] | Should -BeLike "*unix:///run/containerd/containerd.sock*start the container runtime ('systemctl start containerd')*"
            $message['Services.ContainerdService'] | Should -Be "containerd.service: it is inactive (dead), run 'systemctl start containerd' and read 'Get-KubeletLog -Unit containerd'."
            $message['Node.Ready'] | Should -BeLike "node $($node.NodeName) is not Ready (KubeletNotReady: container runtime is down*"
            foreach ($path in 'Runtime.RuntimeReady', 'Runtime.NetworkReady', 'Runtime.SandboxImagePresent') {
                $message[$path] | Should -BeLike '*did not answer (see CriSocketReachable).' -Because $path
            }
        }
    }

    Context 'the agent''s pod events in the journal' {
        BeforeAll {
            if (-not $node.SkipReason) {
                # The agent on the host's private containerd (see the top), kubelet's event lines at V(3) kept;
                # then a static pod whose only container's image is absent with pull policy Never.
                $configFile = Join-Path $node.Machine.Root 'var/lib/kubelet/config.yaml'
                $config = (Get-Content -Raw $configFile) -replace '(?m)^containerRuntimeEndpoint: .*$', "containerRuntimeEndpoint: $($containerd.Endpoint)"
                # nspawn mounts the host's cgroup v1 controllers read-only, so the container manager cannot create
                # kubepods or pod cgroups in here: the pod cgroups are turned off, as kubelet allows (cgroupsPerQOS
                # false needs enforceNodeAllocatable empty, kubelet's validation).
                Set-Content -LiteralPath $configFile -Value ($config.TrimEnd() + "`nlogging:`n  verbosity: 3`ncgroupsPerQOS: false`nenforceNodeAllocatable: []`n")
                $restarted = Invoke-PwshInTestSystemd $node.Machine 'Restart-KubeletService -Name kubeletps -Confirm:$false'
                $manifests = Join-Path $node.Machine.Root 'etc/kubernetes/manifests'
                $null = New-Item -ItemType Directory -Force $manifests
                Set-Content (Join-Path $manifests 'web.yaml') @'
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: default
spec:
  hostNetwork: true
  containers:
  - name: app
    image: kubeletps.local/absent:1
    imagePullPolicy: Never
'@
                $pod = "web-$($node.NodeName)"
                $query = "Get-KubeletLog -Unit kubeletps | Where-Object Pod -EQ '$pod' | Where-Object Reason -EQ 'ErrImageNeverPull' | Select-Object -First 1 Pod, Namespace, Container, Reason, Unit, Priority, Message"
                $machine = $node.Machine
                Wait-Until { $found = Invoke-PwshInTestSystemd $machine $query; $found -and $found.PSObject.Properties['Pod'] } "the agent's journal has $pod's ErrImageNeverPull event" -Seconds 120
                $entry = Invoke-PwshInTestSystemd $machine $query
            }
        }

        It 'Get-KubeletLog -Unit kubeletps returns the event with Pod, Namespace, Container and Reason' {
            if ($node.SkipReason) { Set-ItResult -Skipped -Because $node.SkipReason; return }
            $restarted.PSObject.Properties['ErrorId'] | Should -BeNullOrEmpty
            $entry.Pod | Should -Be "web-$($node.NodeName)"
            $entry.Namespace | Should -Be 'default'
            $entry.Container | Should -Be 'app'
            $entry.Reason | Should -Be 'ErrImageNeverPull'
            $entry.Unit | Should -Be 'kubeletps.service'
            $entry.Message | Should -BeLike '*Container image "kubeletps.local/absent:1" is not present with pull policy of Never*'
        }
    }
}
