# Test-KubeletNode against the test cluster with a running agent and a private containerd, then
# against the same node broken (an expired client certificate, the runtime stopped). The checks
# that depend on this machine (root, swap, bridge netfilter, forwarding, port 10250, binaries,
# overlay, systemd) are expected as this test reads the machine itself, never assumed.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../TestSupport.psm1') -Force
    Import-Module (Get-TestModulePath) -Force
    $base = Join-Path '/tmp' ('kptn-' + [guid]::NewGuid().ToString('N').Substring(0, 6))
    $cluster = Start-TestCluster -Directory (Join-Path $base 'cluster') -Node node9 -ExpiredNode node9
    $containerd = Start-TestContainerd -Directory (Join-Path $base 'ctd')
    $admin = Join-Path $cluster.Directory 'admin.conf'
    $kubeconfig = Join-Path $cluster.Directory 'node-node9.conf'
    $expiredKubeconfig = Join-Path $cluster.Directory 'node-node9-expired.conf'
    $config = Join-Path $base 'config.yaml'
    Set-Content $config @"
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: $($containerd.Endpoint)
"@
    $agentArgs = @{
        KubeconfigPath = $kubeconfig; ConfigPath = $config; NodeName = 'node9'; RootDirectory = Join-Path $base 'root'
        PodLogDirectory = $containerd.PodLogDirectory; StaticPodPath = ''; NodeIp = '10.9.9.9'
    }
    $agent = Start-ThreadJob -ArgumentList (Get-TestModulePath), $agentArgs -ScriptBlock {
        param($module, $parameters)
        Import-Module $module
        Start-KubeletAgent @parameters -StopPodsOnExit -DurationSec 900 -Confirm:$false
    }
    Wait-Until { (& kubectl --kubeconfig $admin get node node9 -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>$null) -eq 'True' } 'node9 is Ready'
    $node = @{ ConfigPath = $config; KubeconfigPath = $kubeconfig; NodeName = 'node9' }

    function Get-MachinePreflight {
        # What each Preflight check must give on this machine, read here with other means than the engine's.
        $expected = [ordered]@{}
        $expected.IsPrivilegedUser = if ((& id -u) -eq '0') { 'Passed' } else { 'Failed' }
        $expected.Swap = if (@(Get-Content /proc/swaps | Select-Object -Skip 1 | Where-Object { $_.Trim() }).Count -eq 0) { 'Passed' } else { 'Failed' }
        $bridge = '/proc/sys/net/bridge/bridge-nf-call-iptables'
        $expected.BridgeNetfilter = if ((Test-Path /sys/module/br_netfilter) -or (Test-Path $bridge)) { 'Passed' } else { 'Failed' }
        $expected.BridgeNfCallIptables = if ((Get-Content $bridge -ErrorAction Ignore) -eq '1') { 'Passed' } else { 'Failed' }
        $expected.IPv4Forward = if ((Get-Content /proc/sys/net/ipv4/ip_forward) -eq '1') { 'Passed' } else { 'Failed' }
        # Port 10250: free, or held by this process (an agent in it) or by a Start-KubeletAgent process.
        $listener = & ss -Hltnp 'sport = :10250' 2>$null | Select-Object -First 1
        $expected.KubeletPort = if (-not $listener) { 'Passed' } else {
            $holder = if ($listener -match 'pid=(\d+)') { [int]$Matches[1] }
            $commandLine = if ($holder) { (Get-Content -Raw "/proc/$holder/cmdline" -ErrorAction Ignore) -replace "`0", ' ' }
            if ($holder -eq $PID -or $commandLine -match 'Start-KubeletAgent') { 'Passed' } else { 'Failed' }
        }
        $expected.RequiredBinaries = if (@('ip', 'iptables', 'mount', 'nsenter' | Where-Object { -not (Get-Command $_ -CommandType Application -ErrorAction Ignore) }).Count -eq 0) { 'Passed' } else { 'Failed' }
        $expected.OptionalBinaries = if (@('ebtables', 'ethtool', 'socat', 'tc', 'touch' | Where-Object { -not (Get-Command $_ -CommandType Application -ErrorAction Ignore) }).Count -eq 0) { 'Passed' } else { 'Inconclusive' }
        # containerd and runc are installed on every machine these tests run on (build.ps1 installs them).
        $expected.ContainerRuntime = 'Passed'
        $expected.KernelModules = if ((Test-Path /sys/module/overlay) -or (Select-String -Path /proc/filesystems -Pattern '\soverlay$' -Quiet)) { 'Passed' } else { 'Failed' }
        $expected
    }

    function Get-MachineService([string] $Name) {
        if (-not (Get-Command Get-KubeletService -ErrorAction Ignore)) { return 'Skipped' }
        if ((Get-Content /proc/1/comm) -ne 'systemd') { return 'Skipped' }
        if ((& systemctl is-enabled $Name 2>$null) -in 'enabled', 'static' -and (& systemctl is-active $Name 2>$null) -eq 'active') { 'Passed' } else { 'Failed' }
    }

    function Get-TestOutcome($Run) {
        # Test name (Group.Check) -> Pester result.
        $outcome = [ordered]@{}
        foreach ($test in $Run.Tests) { $outcome[$test.ExpandedPath] = $test.Result }
        $outcome
    }
}

AfterAll {
    # The broken-node context stops and removes the agent's job itself.
    if ($agent -and (Get-Job -Id $agent.Id -ErrorAction Ignore)) { $agent | Stop-Job -PassThru | Remove-Job -Force }
    Stop-TestCluster $cluster
    Stop-TestContainerd -Containerd $containerd
    Remove-Item -Recurse -Force $base -ErrorAction Ignore
}

Describe 'Test-KubeletNode' {
    Context 'on a healthy node: the test cluster, a running agent, a private containerd' {
        BeforeAll {
            $report = Join-Path $base 'node-report.xml'
            $run = Test-KubeletNode @node -OutputFormat NUnitXml -OutputPath $report
            $outcome = Get-TestOutcome $run
        }

        It 'passes every check that applies here and skips the others with the reason' {
            $expected = [ordered]@{}
            foreach ($entry in (Get-MachinePreflight).GetEnumerator()) { $expected["Preflight.$($entry.Key)"] = $entry.Value }
            $expected['Preflight.CgroupDriver'] = 'Passed'
            foreach ($name in 'CriSocketReachable', 'RuntimeReady', 'NetworkReady', 'SandboxImagePresent') { $expected["Runtime.$name"] = 'Passed' }
            foreach ($name in 'ConfigFileParses', 'KubeconfigParses', 'AllFieldsInEffect') { $expected["Configuration.$name"] = 'Passed' }
            foreach ($name in 'ClientCertificateReadable', 'KeyMatchesCertificate', 'ValidAt', 'ChainsToCA', 'ClientAuth', 'NodeIdentity', 'NotExpiringWithin', 'RotationNotOverdue', 'CurrentLinkUpToDate', 'KeyFilePrivate', 'CAFileReadable') { $expected["Certificates.$name"] = 'Passed' }
            foreach ($name in 'Kubeconfig', 'ServerTrusted', 'AnonymousRefused', 'CredentialsAccepted', 'NodeAuthorized') { $expected["ApiServer.$name"] = 'Passed' }
            foreach ($name in 'Registered', 'Ready', 'LeaseRenewed', 'NoMemoryPressure', 'NoDiskPressure', 'NoPIDPressure') { $expected["Node.$name"] = 'Passed' }
            $expected['Services.ContainerdService'] = Get-MachineService containerd
            $expected['Services.AgentService'] = Get-MachineService kubeletps

            ($outcome.GetEnumerator() | ForEach-Object { "$($_.Key)=$($_.Value)" }) -join "`n" |
                Should -Be (($expected.GetEnumerator() | ForEach-Object { "$($_.Key)=$($_.Value)" }) -join "`n")
            $run.Result | Should -Be $(if ($expected.Values -contains 'Failed') { 'Failed' } else { 'Passed' })
        }

        It 'gives each skipped check its reason' {
            $skipped = @($run.Tests | Where-Object Result -EQ 'Skipped')
            foreach ($test in $skipped) {
                $test.ErrorRecord[0].Exception.Message | Should -Match 'systemd is not PID 1|Get-KubeletService is not in this version' -Because $test.ExpandedPath
            }
        }

        It 'writes an NUnit report that parses, with one test-case per check' {
            $xml = [xml](Get-Content -Raw $report)
            $cases = @($xml.SelectNodes('//test-case'))
            ($cases.name | Sort-Object) -join ',' | Should -Be (($outcome.Keys | Sort-Object) -join ',')
            $swap = $cases | Where-Object name -EQ 'Preflight.Swap'
            $swap.result | Should -Be $(if ($outcome['Preflight.Swap'] -eq 'Passed') { 'Success' } else { 'Failure' })
            # Pester's NUnit 2.5 report marks a skipped test Ignored (it writes no reason; the result object has it).
            @($cases | Where-Object result -EQ 'Ignored' | ForEach-Object name | Sort-Object) |
                Should -Be @($outcome.GetEnumerator() | Where-Object Value -EQ 'Skipped' | ForEach-Object Key | Sort-Object)
        }
    }

    Context 'choosing groups' {
        It 'runs only the groups -Tag names' {
            $run = Test-KubeletNode @node -Tag Runtime, Configuration
            @($run.Tests.ExpandedPath | ForEach-Object { $_.Split('.')[0] } | Sort-Object -Unique) | Should -Be @('Configuration', 'Runtime')
            $run.FailedCount | Should -Be 0
        }

        It 'leaves out the groups -ExcludeTag names' {
            $run = Test-KubeletNode @node -ExcludeTag Preflight, Services, Node, ApiServer, Certificates
            @($run.Tests.ExpandedPath | ForEach-Object { $_.Split('.')[0] } | Sort-Object -Unique) | Should -Be @('Configuration', 'Runtime')
        }

        It 'prints one line per check with -Detailed, one per group file without it' {
            $text = { param($records) ($records | Where-Object { $_ -is [System.Management.Automation.InformationRecord] } | ForEach-Object { [string]$_.MessageData }) -join "`n" }
            $normalRecords = Test-KubeletNode @node -Tag Configuration 6>&1
            $detailedRecords = Test-KubeletNode @node -Tag Configuration -Detailed 6>&1
            $run = $detailedRecords | Where-Object { $_ -isnot [System.Management.Automation.InformationRecord] } | Select-Object -Last 1
            $normal = & $text $normalRecords
            $detailed = & $text $detailedRecords
            $run.Tests.Count | Should -BeGreaterThan 1
            foreach ($check in $run.Tests) {
                $detailed | Should -Match ([regex]::Escape($check.ExpandedName)) -Because "-Detailed names $($check.ExpandedPath)"
                $normal | Should -Not -Match "\[\+\] $([regex]::Escape($check.ExpandedName))" -Because 'the normal view names the group files only'
            }
            $normal | Should -Match 'Configuration\.Tests\.ps1'
        }

        It 'refuses a group that does not exist, naming the groups' {
            $e = Get-ErrorRecord { Test-KubeletNode @node -Tag Kernel }
            $e.FullyQualifiedErrorId | Should -BeLike 'TestKubeletNodeUnknownGroup,*'
            $e.CategoryInfo.Category | Should -Be 'InvalidArgument'
            $e.Exception.Message | Should -BeLike "No node test group is tagged 'Kernel'. The groups are: Preflight, Runtime, Configuration, Certificates, ApiServer, Node, Services."
        }
    }

    Context 'without Pester 5' {
        It 'stops with an ErrorRecord saying how to install Pester' {
            # A fresh pwsh whose module path holds only PowerShell's own modules: no Pester to find.
            $script = @"
`$env:PSModulePath = Join-Path `$PSHOME 'Modules'
Import-Module '$(Get-TestModulePath)'
if (Get-Module -ListAvailable Pester) { 'PESTER-IN-PSHOME'; exit }
try { Test-KubeletNode -Tag Preflight; 'NO-ERROR' }
catch { `$_.FullyQualifiedErrorId; `$_.CategoryInfo.Category.ToString(); "`$(`$_.TargetObject)"; `$_.Exception.Message }
"@
            $lines = @(& dotnet pwsh -NoProfile -NonInteractive -Command $script)
            $lines[0] | Should -Not -Be 'PESTER-IN-PSHOME' -Because 'this test needs a PowerShell without Pester in $PSHOME/Modules'
            $lines[0] | Should -BeLike 'TestKubeletNodePesterNotFound,*'
            $lines[1] | Should -Be 'ObjectNotFound'
            $lines[2] | Should -Be 'Pester'
            $lines[3] | Should -BeLike "Test-KubeletNode runs its checks with Pester 5, which is not available. Install it with 'Install-PSResource -Name Pester -Version `"[[]5.0,6.0)`"'*Import-Module ~/.nuget/packages/pester/5.7.1/tools/Pester.psd1*"
        }
    }

    Context 'on a broken node: the client certificate expired, the runtime stopped' {
        BeforeAll {
            $agent | Stop-Job -PassThru | Remove-Job -Force
            $script:agent = $null
            Stop-TestContainerd -Containerd $containerd
            $run = Test-KubeletNode -ConfigPath $config -KubeconfigPath $expiredKubeconfig -NodeName node9
            $outcome = Get-TestOutcome $run
        }

        It 'fails exactly the expected checks' {
            # NodeAuthorized is not among them: Test-KubeletApiConnection makes it only with accepted credentials.
            $machine = Get-MachinePreflight
            $expected = @($machine.GetEnumerator() | Where-Object Value -EQ 'Failed' | ForEach-Object { "Preflight.$($_.Key)" }) +
                'Runtime.CriSocketReachable', 'Certificates.ValidAt', 'Certificates.NotExpiringWithin', 'Certificates.RotationNotOverdue',
                'ApiServer.CredentialsAccepted', 'Node.Registered'
            @($run.Failed.ExpandedPath | Sort-Object) | Should -Be @($expected | Sort-Object)
        }

        It 'says in each failure what is wrong and what to do' {
            $message = @{}
            foreach ($test in $run.Failed) { $message[$test.ExpandedPath] = $test.ErrorRecord[0].Exception.Message }
            $message['Runtime.CriSocketReachable'] | Should -BeLike "container runtime endpoint $($containerd.Endpoint): socket * does not exist (Version): start the container runtime ('systemctl start containerd')*"
            $message['Certificates.ValidAt'] | Should -BeLike 'Expired on * Renew the client certificate (Request-KubeletCertificate -Force*'
            $message['Certificates.NotExpiringWithin'] | Should -BeLike '* Renew the client certificate*'
            $message['ApiServer.CredentialsAccepted'] | Should -BeLike "*the node's client certificate is refused: renew it*"
            $message['Node.Registered'] | Should -BeLike "the Node could not be read with the node's credentials: *"
        }

        It 'skips the checks that need the runtime or the Node, saying why' {
            foreach ($name in 'Preflight.CgroupDriver', 'Runtime.RuntimeReady', 'Runtime.NetworkReady', 'Runtime.SandboxImagePresent', 'Node.Ready', 'Node.LeaseRenewed', 'Node.NoMemoryPressure') {
                $outcome[$name] | Should -Be 'Skipped' -Because $name
            }
            ($run.Skipped | Where-Object ExpandedPath -EQ 'Runtime.RuntimeReady').ErrorRecord[0].Exception.Message | Should -BeLike "*the runtime at $($containerd.Endpoint) did not answer (see CriSocketReachable)*"
            ($run.Skipped | Where-Object ExpandedPath -EQ 'Node.Ready').ErrorRecord[0].Exception.Message | Should -BeLike '*the Node could not be read (see Registered)*'
        }
    }
}
