BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../TestSupport.psm1') -Force
    Import-Module (Get-TestModulePath) -Force
}

Describe 'Invoke-KubeletContainerCommand' {
    Context 'without a runtime' {
        It 'stops with ConnectionError naming the endpoint when the socket is missing' {
            $endpoint = "unix:///tmp/kps-missing-$([guid]::NewGuid().ToString('N')).sock"
            $record = Get-ErrorRecord { Invoke-KubeletContainerCommand -Pod web -Command true -RuntimeEndpoint $endpoint }
            $record.FullyQualifiedErrorId | Should -Be 'InvokeKubeletContainerCommandRuntimeUnavailable,KubeletPS.Commands.InvokeKubeletContainerCommandCommand'
            $record.CategoryInfo.Category | Should -Be 'ConnectionError'
        }
    }

    Context 'a running pod' {
        BeforeAll {
            $containerd = Start-TestStaticPod -FileName 'shell.yaml' -Manifest @'
apiVersion: v1
kind: Pod
metadata:
  name: shell
  namespace: default
spec:
  containers:
  - name: app
    image: kubeletps.local/busybox:latest
    imagePullPolicy: IfNotPresent
    command: ['sleep', '3600']
  - name: side
    image: kubeletps.local/busybox:latest
    imagePullPolicy: IfNotPresent
    command: ['sleep', '3600']
'@
            $root = $containerd.Root
            $endpoint = $containerd.Endpoint
            Wait-Until { (Get-KubeletPod shell-pester -RuntimeEndpoint $endpoint -RootDirectory $root -ErrorAction Ignore).ReadyContainers -eq 2 } 'both containers run'
        }
        AfterAll {
            Stop-TestContainerd -Containerd $containerd
        }

        It 'returns stdout, stderr and a non-zero exit code without an error' {
            $result = Invoke-KubeletContainerCommand -Pod shell-pester -Container app -Command sh, -c, 'echo out; echo err >&2; exit 3' -RuntimeEndpoint $endpoint -ErrorVariable problems
            $problems.Count | Should -Be 0
            $result | Should -BeOfType KubeletPS.Output.KubeletExecResult
            $result.ExitCode | Should -Be 3
            $result.Succeeded | Should -BeFalse
            $result.Stdout | Should -Be "out`n"
            $result.Stderr | Should -Be "err`n"
            $result.Container | Should -Be 'app'
            $result.Namespace | Should -Be 'default'
        }

        It 'runs in the container named, in its own file system' {
            $null = Invoke-KubeletContainerCommand -Pod shell-pester -Container side -Command touch, /tmp/only-in-side -RuntimeEndpoint $endpoint
            (Invoke-KubeletContainerCommand -Pod shell-pester -Container side -Command test, -e, /tmp/only-in-side -RuntimeEndpoint $endpoint).ExitCode | Should -Be 0
            (Invoke-KubeletContainerCommand -Pod shell-pester -Container app -Command test, -e, /tmp/only-in-side -RuntimeEndpoint $endpoint).ExitCode | Should -Be 1
        }

        It 'writes an OperationTimeout error when the command outlives -Timeout' {
            $result = Invoke-KubeletContainerCommand -Pod shell-pester -Container app -Command sleep, 30 -Timeout 1 -RuntimeEndpoint $endpoint -ErrorAction SilentlyContinue -ErrorVariable problems
            $result | Should -BeNullOrEmpty
            $problems.Count | Should -Be 1
            $problems[0].FullyQualifiedErrorId | Should -Be 'InvokeKubeletContainerCommandTimeout,KubeletPS.Commands.InvokeKubeletContainerCommandCommand'
            $problems[0].CategoryInfo.Category | Should -Be 'OperationTimeout'
            $problems[0].TargetObject | Should -Be 'default/shell-pester/app'
            $problems[0].Exception.Message | Should -BeLike '*within 1s*'
        }

        It 'names the containers to choose from when the pod has several' {
            $null = Invoke-KubeletContainerCommand -Pod shell-pester -Command true -RuntimeEndpoint $endpoint -ErrorAction SilentlyContinue -ErrorVariable problems
            $problems[0].FullyQualifiedErrorId | Should -Be 'InvokeKubeletContainerCommandContainerNameRequired,KubeletPS.Commands.InvokeKubeletContainerCommandCommand'
            $problems[0].Exception.Message | Should -BeLike '*app side*'
        }

        It 'writes the runtime''s reason when the command cannot start' {
            $null = Invoke-KubeletContainerCommand -Pod shell-pester -Container app -Command /no/such/program -RuntimeEndpoint $endpoint -ErrorAction SilentlyContinue -ErrorVariable problems
            $problems[0].FullyQualifiedErrorId | Should -Be 'InvokeKubeletContainerCommandFailed,KubeletPS.Commands.InvokeKubeletContainerCommandCommand'
            $problems[0].Exception.Message | Should -BeLike '*/no/such/program*'
        }

        It 'runs nothing with -WhatIf' {
            Invoke-KubeletContainerCommand -Pod shell-pester -Container app -Command touch, /tmp/whatif -RuntimeEndpoint $endpoint -WhatIf | Should -BeNullOrEmpty
            (Invoke-KubeletContainerCommand -Pod shell-pester -Container app -Command test, -e, /tmp/whatif -RuntimeEndpoint $endpoint).ExitCode | Should -Be 1
        }

        It 'takes the pod from Get-KubeletPod' {
            $result = Get-KubeletPod shell-pester -RuntimeEndpoint $endpoint -RootDirectory $root |
                Invoke-KubeletContainerCommand -Container app -Command hostname -RuntimeEndpoint $endpoint
            $result.ExitCode | Should -Be 0
            $result.Pod | Should -Be 'shell-pester'
        }

        It 'writes ObjectNotFound for a pod that is not on the node' {
            $null = Invoke-KubeletContainerCommand -Pod nope -Command true -RuntimeEndpoint $endpoint -ErrorAction SilentlyContinue -ErrorVariable problems
            $problems[0].FullyQualifiedErrorId | Should -Be 'InvokeKubeletContainerCommandPodNotFound,KubeletPS.Commands.InvokeKubeletContainerCommandCommand'
            $problems[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        }
    }

    Context 'help and formatting' {
        It 'has a view and help with examples, and supports -WhatIf' {
            Get-FormatData -TypeName KubeletPS.Output.KubeletExecResult | Should -Not -BeNullOrEmpty
            (Get-Help Invoke-KubeletContainerCommand -Full).examples.example.Count | Should -BeGreaterThan 1
            (Get-Command Invoke-KubeletContainerCommand).Parameters.Keys | Should -Contain 'WhatIf'
        }
    }
}
