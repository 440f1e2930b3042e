BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot '../TestSupport.psm1') -Force
    Import-Module (Get-TestModulePath) -Force
    # Pods are seeded by the agent's one-shot sync (branch 'pods'); until it is merged those tests are skipped.
    $script:hasPodSync = [bool](Get-Command Start-KubeletPodSync -Module KubeletPS -ErrorAction Ignore)
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../TestSupport.psm1') -Force
    Import-Module (Get-TestModulePath) -Force
}

Describe 'Get-KubeletPod' {
    Context 'without a runtime' {
        It 'stops with ConnectionError naming the endpoint when the socket is missing' {
            $endpoint = "unix:///tmp/kps-missing-$([guid]::NewGuid().ToString('N')).sock"
            $record = Get-ErrorRecord { Get-KubeletPod -RuntimeEndpoint $endpoint }
            $record.FullyQualifiedErrorId | Should -Be 'GetKubeletPodRuntimeUnavailable,KubeletPS.Commands.GetKubeletPodCommand'
            $record.CategoryInfo.Category | Should -Be 'ConnectionError'
            $record.Exception.Message | Should -BeLike "*$endpoint*"
            $record.TargetObject | Should -Be $endpoint
        }

        It 'stops with InvalidArgument for an endpoint that is not a unix socket' {
            $record = Get-ErrorRecord { Get-KubeletPod -RuntimeEndpoint 'tcp://127.0.0.1:1234' }
            $record.FullyQualifiedErrorId | Should -Be 'GetKubeletPodInvalidEndpoint,KubeletPS.Commands.GetKubeletPodCommand'
            $record.CategoryInfo.Category | Should -Be 'InvalidArgument'
        }

        It 'takes the endpoint from the kubelet configuration' {
            $config = Join-Path $TestDrive 'config.yaml'
            $endpoint = "unix:///tmp/kps-missing-$([guid]::NewGuid().ToString('N')).sock"
            Set-Content $config "apiVersion: kubelet.config.k8s.io/v1beta1`nkind: KubeletConfiguration`ncontainerRuntimeEndpoint: $endpoint`n"
            $record = Get-ErrorRecord { Get-KubeletPod -ConfigPath $config }
            $record.Exception.Message | Should -BeLike "*$endpoint*"
        }
    }

    Context 'an empty node' {
        BeforeAll {
            $containerd = Start-TestContainerd
        }
        AfterAll {
            Stop-TestContainerd -Containerd $containerd
        }

        It 'returns nothing' {
            $pods = @(Get-KubeletPod -RuntimeEndpoint $containerd.Endpoint -RootDirectory $TestDrive)
            $pods.Count | Should -Be 0
        }

        It 'writes a non-terminating ObjectNotFound error for a name without wildcards, and goes on' {
            $pods = @(Get-KubeletPod 'no-such-pod', 'web-*' -RuntimeEndpoint $containerd.Endpoint -ErrorAction SilentlyContinue -ErrorVariable problems)
            $pods.Count | Should -Be 0
            $problems.Count | Should -Be 1
            $problems[0].FullyQualifiedErrorId | Should -Be 'GetKubeletPodNotFound,KubeletPS.Commands.GetKubeletPodCommand'
            $problems[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
            $problems[0].TargetObject | Should -Be 'no-such-pod'
        }

        It 'takes names from the pipeline' {
            'a-pod', 'b-pod' | Get-KubeletPod -RuntimeEndpoint $containerd.Endpoint -ErrorAction SilentlyContinue -ErrorVariable problems
            @($problems.TargetObject) | Should -Be @('a-pod', 'b-pod')
        }
    }

    Context 'help and formatting' {
        It 'has a table view with kubectl''s columns' {
            $view = Get-FormatData -TypeName KubeletPS.Output.KubeletPodInfo
            $view | Should -Not -BeNullOrEmpty
            $view.FormatViewDefinition[0].Control.Headers.Label | Should -Be @('NAMESPACE', 'NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE', 'IP')
        }

        It 'has a list view that shows the QoS class' {
            $list = (Get-FormatData -TypeName KubeletPS.Output.KubeletPodInfo).FormatViewDefinition | Where-Object { $_.Control -is [System.Management.Automation.ListControl] }
            $list | Should -Not -BeNullOrEmpty
            $list.Control.Entries[0].Items.DisplayEntry.Value | Should -Contain 'QosClass'
        }

        It 'has a table view for containers' {
            Get-FormatData -TypeName KubeletPS.Output.KubeletContainerInfo | Should -Not -BeNullOrEmpty
        }

        It 'formats ages as kubectl does' {
            [KubeletPS.Output.KubeletPodInfo]::FormatAge([timespan]::FromSeconds(200)) | Should -Be '3m20s'
            [KubeletPS.Output.KubeletPodInfo]::FormatAge([timespan]::FromDays(2)) | Should -Be '2d'
        }

        It 'documents the phase approximations in its help' {
            $help = Get-Help Get-KubeletPod -Full
            ($help.description.Text -join "`n") | Should -Match 'getPhase'
            $help.examples.example.Count | Should -BeGreaterThan 1
        }
    }

    Context 'pods the agent runs' -Skip:(-not $hasPodSync) {
        BeforeAll {
            # Static pods are named after the node: NAME-pester.
            $containerd = Start-TestStaticPod -FileName 'web.yaml' -Manifest @'
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: default
spec:
  containers:
  - name: app
    image: kubeletps.local/busybox:latest
    imagePullPolicy: IfNotPresent
    command: ['sh', '-c', 'echo hello from app; sleep 3600']
  - name: sidecar
    image: kubeletps.local/busybox:latest
    imagePullPolicy: IfNotPresent
    command: ['sh', '-c', 'echo hello from sidecar; sleep 3600']
    resources:
      requests:
        memory: 16Mi
'@
            $root = $containerd.Root
            $deadline = [DateTime]::UtcNow.AddSeconds(60)
            do {
                $pod = Get-KubeletPod web-pester -RuntimeEndpoint $containerd.Endpoint -RootDirectory $root -ErrorAction Ignore
                if ($pod -and $pod.ReadyContainers -eq 2) { break }
                Start-Sleep -Milliseconds 250
            } while ([DateTime]::UtcNow -lt $deadline)
        }
        AfterAll {
            Stop-TestContainerd -Containerd $containerd
        }

        It 'shows the pod Running with both containers ready and an IP' {
            $pod.Name | Should -Be 'web-pester'
            $pod.Phase | Should -Be 'Running'
            $pod.Ready | Should -Be '2/2'
            $pod.IP | Should -Not -BeNullOrEmpty
            $pod.Age | Should -BeGreaterThan ([timespan]::Zero)
        }

        It 'shows the QoS class the agent reported (a request without a limit: Burstable), in its list view too' {
            $pod.QosClass | Should -Be 'Burstable'
            ($pod | Format-List | Out-String) | Should -Match 'QosClass\s*:\s*Burstable'
        }

        It 'prints a kubectl-like table' {
            $text = $pod | Out-String
            $text | Should -Match 'NAMESPACE\s+NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP'
            $text | Should -Match 'default\s+web-pester\s+2/2\s+Running\s+0'
        }

        It 'expands to the containers and their states' {
            $containers = Get-KubeletPod web-pester -RuntimeEndpoint $containerd.Endpoint -RootDirectory $root | Select-Object -ExpandProperty Containers
            $containers.Name | Should -Be @('app', 'sidecar')
            $containers.State | Should -Be @('Running', 'Running')
            $containers[0].PodName | Should -Be 'web-pester'
        }

        It 'finds pods by wildcard and namespace' {
            (Get-KubeletPod 'W*' -Namespace 'def*' -RuntimeEndpoint $containerd.Endpoint -RootDirectory $root).Name | Should -Be 'web-pester'
            @(Get-KubeletPod -Namespace kube-system -RuntimeEndpoint $containerd.Endpoint -RootDirectory $root).Count | Should -Be 0
        }
    }
}
