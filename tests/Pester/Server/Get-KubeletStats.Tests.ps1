BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../TestSupport.psm1') -Force
    Import-Module (Get-TestModulePath) -Force
}

Describe 'Get-KubeletStats' {
    Context 'without a runtime' {
        It 'stops with ConnectionError naming the endpoint when the socket is missing' {
            $endpoint = "unix:///tmp/kps-missing-$([guid]::NewGuid().ToString('N')).sock"
            $record = Get-ErrorRecord { Get-KubeletStats -RuntimeEndpoint $endpoint -SampleInterval 0 }
            $record.FullyQualifiedErrorId | Should -Be 'GetKubeletStatsRuntimeUnavailable,KubeletPS.Commands.GetKubeletStatsCommand'
            $record.CategoryInfo.Category | Should -Be 'ConnectionError'
            $record.Exception.Message | Should -BeLike "*$endpoint*"
        }
    }

    Context 'a node running a CPU burner beside an idle container' {
        BeforeAll {
            $containerd = Start-TestStaticPod -FileName 'busy.yaml' -Manifest @'
apiVersion: v1
kind: Pod
metadata:
  name: busy
  namespace: default
spec:
  containers:
  - name: burn
    image: kubeletps.local/busybox:latest
    imagePullPolicy: IfNotPresent
    command: ['sh', '-c', 'while :; do :; done']
  - name: idle
    image: kubeletps.local/busybox:latest
    imagePullPolicy: IfNotPresent
    command: ['sleep', '3600']
'@
            $root = $containerd.Root
            Wait-Until { (Get-KubeletPod busy-pester -RuntimeEndpoint $containerd.Endpoint -RootDirectory $root -ErrorAction Ignore).ReadyContainers -eq 2 } 'both containers run'
            $all = @(Get-KubeletStats -RuntimeEndpoint $containerd.Endpoint -RootDirectory $root -NodeName pester)
        }
        AfterAll {
            Stop-TestContainerd -Containerd $containerd
        }

        It 'writes the node first, with CPU and memory within the machine''s capacity' {
            $node = $all[0]
            $node | Should -BeOfType KubeletPS.Output.KubeletNodeStats
            $node.NodeName | Should -Be 'pester'
            $node.CpuUsageNanoCores | Should -BeGreaterThan 0
            $node.CpuUsageNanoCores | Should -BeLessOrEqual ($node.CpuCapacity * 1.1e9)
            $node.MemoryWorkingSetBytes | Should -BeGreaterThan 0
            $node.MemoryWorkingSetBytes | Should -BeLessOrEqual $node.MemoryCapacityBytes
            $node.FsCapacityBytes | Should -BeGreaterThan 0
            $node.Processes | Should -BeGreaterThan 0
        }

        It 'writes the pod with its containers, the burner using more CPU than the idle one' {
            $pod = $all | Where-Object Name -eq 'busy-pester'
            $pod | Should -BeOfType KubeletPS.Output.KubeletPodStats
            $pod.Containers.Name | Should -Be @('burn', 'idle')
            $burn, $idle = $pod.Containers
            $burn.CpuUsageNanoCores | Should -BeGreaterThan $idle.CpuUsageNanoCores
            $pod.CpuUsageNanoCores | Should -Be ($burn.CpuUsageNanoCores + $idle.CpuUsageNanoCores)
            $pod.MemoryWorkingSetBytes | Should -BeGreaterThan 0
            $pod.NetworkInterface | Should -Be 'eth0'
        }

        It 'prints kubectl top''s columns' {
            ($all[0] | Out-String) | Should -Match 'NAME\s+CPU\(cores\)\s+CPU%\s+MEMORY\(bytes\)\s+MEMORY%'
            ($all[0] | Out-String) | Should -Match 'pester\s+\d+m\s+\d+%\s+\d+Mi\s+\d+%'
            ($all[1] | Out-String) | Should -Match 'default\s+busy-pester\s+\d+m\s+\d+Mi'
        }

        It 'takes pods from Get-KubeletPod and reports only those' {
            $stats = @(Get-KubeletPod busy-pester -RuntimeEndpoint $containerd.Endpoint -RootDirectory $root |
                Get-KubeletStats -RuntimeEndpoint $containerd.Endpoint -RootDirectory $root -SampleInterval 0)
            $stats.Count | Should -Be 1
            $stats[0].Name | Should -Be 'busy-pester'
            $stats[0].Namespace | Should -Be 'default'
            # One sample: cumulative CPU time, no rate (the pod's sum of unknown rates is 0, as in kubelet's summary).
            $stats[0].CpuUsageCoreNanoSeconds | Should -BeGreaterThan 0
            $stats[0].Containers | ForEach-Object { $_.CpuUsageNanoCores | Should -BeNullOrEmpty }
            $stats[0].CpuUsageNanoCores | Should -Be 0
        }

        It 'writes the summary JSON with kubelet''s field names' {
            $summary = Get-KubeletStats -AsJson -SampleInterval 0 -RuntimeEndpoint $containerd.Endpoint -RootDirectory $root -NodeName pester | ConvertFrom-Json
            $summary.node.nodeName | Should -Be 'pester'
            $summary.node.memory.workingSetBytes | Should -BeGreaterThan 0
            $pod = $summary.pods | Where-Object { $_.podRef.name -eq 'busy-pester' }
            $pod.podRef.namespace | Should -Be 'default'
            $pod.containers.name | Should -Contain 'burn'
            $pod.'ephemeral-storage'.usedBytes | Should -Not -BeNullOrEmpty
        }

        It 'writes a non-terminating ObjectNotFound error for a pod name that matches nothing' {
            $stats = @(Get-KubeletStats nope -RuntimeEndpoint $containerd.Endpoint -RootDirectory $root -SampleInterval 0 -ErrorAction SilentlyContinue -ErrorVariable problems)
            $stats.Count | Should -Be 0
            $problems[0].FullyQualifiedErrorId | Should -Be 'GetKubeletStatsPodNotFound,KubeletPS.Commands.GetKubeletStatsCommand'
            $problems[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
            $problems[0].TargetObject | Should -Be 'nope'
        }
    }

    Context 'help and formatting' {
        It 'has table views for node, pod and container stats' {
            (Get-FormatData -TypeName KubeletPS.Output.KubeletNodeStats).FormatViewDefinition[0].Control.Headers.Label[0..4] |
                Should -Be @('NAME', 'CPU(cores)', 'CPU%', 'MEMORY(bytes)', 'MEMORY%')
            Get-FormatData -TypeName KubeletPS.Output.KubeletPodStats | Should -Not -BeNullOrEmpty
            Get-FormatData -TypeName KubeletPS.Output.KubeletContainerStats | Should -Not -BeNullOrEmpty
        }

        It 'formats CPU and memory as kubectl top does' {
            [KubeletPS.Output.KubeletNodeStats]::FormatCpu(250000000) | Should -Be '250m'
            [KubeletPS.Output.KubeletNodeStats]::FormatMemory(64MB) | Should -Be '64Mi'
        }

        It 'has help with examples' {
            (Get-Help Get-KubeletStats -Full).examples.example.Count | Should -BeGreaterThan 1
        }
    }
}
