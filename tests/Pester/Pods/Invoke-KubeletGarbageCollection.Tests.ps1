BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../TestSupport.psm1') -Force
    Import-Module (Get-TestModulePath) -Force

    function Get-ImageTag([Parameter(Mandatory)] $Containerd) {
        $socket = $Containerd.Endpoint -replace '^unix://', ''
        @(& ctr --address $socket --namespace k8s.io images ls -q | Where-Object { $_ -notmatch '^sha256:' })
    }
}

Describe 'Invoke-KubeletGarbageCollection' {
    Context 'without a runtime' {
        It 'stops with ConnectionError naming the endpoint when the socket is missing' {
            $endpoint = "unix:///tmp/kps-missing-$([guid]::NewGuid().ToString('N')).sock"
            $record = Get-ErrorRecord { Invoke-KubeletGarbageCollection -RuntimeEndpoint $endpoint -Confirm:$false }
            $record.FullyQualifiedErrorId | Should -Be 'InvokeKubeletGarbageCollectionRuntimeUnavailable,KubeletPS.Commands.InvokeKubeletGarbageCollectionCommand'
            $record.CategoryInfo.Category | Should -Be 'ConnectionError'
            $record.Exception.Message | Should -BeLike "*$endpoint*"
        }

        It 'refuses a low threshold not below the high one with kubelet''s message, naming the field' {
            $endpoint = "unix:///tmp/kps-missing-$([guid]::NewGuid().ToString('N')).sock"
            $record = Get-ErrorRecord { Invoke-KubeletGarbageCollection -RuntimeEndpoint $endpoint -ImageGCHighThresholdPercent 50 -ImageGCLowThresholdPercent 50 -Confirm:$false }
            $record.FullyQualifiedErrorId | Should -Be 'InvokeKubeletGarbageCollectionInvalidPolicy,KubeletPS.Commands.InvokeKubeletGarbageCollectionCommand'
            $record.CategoryInfo.Category | Should -Be 'InvalidArgument'
            $record.TargetObject | Should -Be 'imageGCLowThresholdPercent'
            $record.Exception.Message | Should -Be 'invalid configuration: imageGCLowThresholdPercent (--image-gc-low-threshold) 50 must be less than imageGCHighThresholdPercent (--image-gc-high-threshold) 50'
        }
    }

    Context 'a node running one pod' {
        BeforeAll {
            $manifest = "apiVersion: v1`nkind: Pod`nmetadata:`n  name: keep`nspec:`n  terminationGracePeriodSeconds: 1`n  containers:`n  - name: main`n    image: kubeletps.local/busybox:latest`n    imagePullPolicy: IfNotPresent`n    command: ['sleep', '3600']`n"
            $node = Start-TestStaticPod -Manifest $manifest -FileName keep.yaml
            $gc = @{ RuntimeEndpoint = $node.Endpoint; ImageGCHighThresholdPercent = 1; ImageGCLowThresholdPercent = 0 }
            $unused = 'kubeletps.local/busybox-user1000:latest', 'kubeletps.local/busybox-named-user:latest'
        }
        AfterAll {
            Stop-TestContainerd -Containerd $node
        }

        It 'with -WhatIf lists the unused images it would remove and removes none' {
            $items = @(Invoke-KubeletGarbageCollection -Images @gc -WhatIf -WarningAction SilentlyContinue)
            $items | ForEach-Object { $_ | Should -BeOfType KubeletPS.Output.KubeletGarbageCollectionItem }
            @($items.Name | Sort-Object) | Should -Be @($unused | Sort-Object)
            $items.Removed | Should -Not -Contain $true
            $items.Kind | Should -Not -Contain 'Container'
            $tags = Get-ImageTag $node
            foreach ($image in $unused) { $tags | Should -Contain $image }
        }

        It 'removes the unused images over the high threshold and keeps the one in use and the sandbox image' {
            $items = @(Invoke-KubeletGarbageCollection -Images @gc -Confirm:$false -WarningVariable warnings -WarningAction SilentlyContinue)
            @($items | Where-Object Removed | ForEach-Object Name | Sort-Object) | Should -Be @($unused | Sort-Object)
            ($items | Where-Object Kind -eq 'Image' | Measure-Object SizeBytes -Sum).Sum | Should -BeGreaterThan 0
            $tags = Get-ImageTag $node
            foreach ($image in $unused) { $tags | Should -Not -Contain $image }
            $tags | Should -Contain 'kubeletps.local/busybox:latest'
            $tags | Should -Contain 'kubeletps.local/pause:latest'
            # The real disk is more than 1% used: the images alone cannot bring it to 0%.
            "$warnings" | Should -BeLike 'Failed to garbage collect required amount of images. Attempted to free * bytes, but only found * bytes eligible to free.'
        }

        It 'removes no container of the running pod, and nothing of a pod as a whole without the agent' {
            $items = @(Invoke-KubeletGarbageCollection -Containers -RuntimeEndpoint $node.Endpoint -Confirm:$false)
            $items.Count | Should -Be 0
            (Get-KubeletPod -RuntimeEndpoint $node.Endpoint -RootDirectory $node.Root).Name | Should -Be 'keep-pester'
        }
    }
}
