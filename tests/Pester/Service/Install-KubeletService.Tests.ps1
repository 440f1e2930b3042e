BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../TestSupport.psm1') -Force
    Import-Module (Get-TestModulePath) -Force
    $base = Join-Path '/tmp' ('kpsv-' + [guid]::NewGuid().ToString('N').Substring(0, 6))
    New-Item -ItemType Directory -Path $base | Out-Null
}

AfterAll {
    Remove-Item -Recurse -Force $base -ErrorAction Ignore
}

Describe 'Install-KubeletService' {
    BeforeEach {
        $units = Join-Path $base ('units-' + [guid]::NewGuid().ToString('N').Substring(0, 6))
    }

    It 'writes nothing with -WhatIf' {
        Install-KubeletService -UnitDirectory $units -WhatIf | Should -BeNullOrEmpty
        Join-Path $units 'kubeletps.service' | Should -Not -Exist
    }

    It 'writes a unit that runs Start-KubeletAgent from this module with the given files, mode 0644' {
        $service = Install-KubeletService -UnitDirectory $units -KubeconfigPath '/etc/kubernetes/kubelet.conf' -ConfigPath "/var/lib/kube let/it's.yaml" -NodeName node1 -Confirm:$false -WarningVariable warnings -WarningAction SilentlyContinue
        $service.PSObject.TypeNames[0] | Should -Be 'KubeletPS.Output.KubeletServiceInfo'
        $service.UnitPath | Should -Be (Join-Path $units 'kubeletps.service')
        $service.UnitChanged | Should -BeTrue
        $unit = Get-Content -Raw $service.UnitPath
        $unit | Should -Match '(?m)^After=network-online\.target containerd\.service$'
        $unit | Should -Match '(?m)^Restart=always$'
        $unit | Should -Match '(?m)^WantedBy=multi-user\.target$'
        $manifest = Join-Path (Get-Module KubeletPS).ModuleBase 'KubeletPS.psd1'
        $unit | Should -Match ([regex]::Escape("ExecStart=`"$(Join-Path $PSHOME 'pwsh')`" -NoLogo -NoProfile -NonInteractive -Command `"Import-Module '$manifest'; Start-KubeletAgent -ConfigPath '/var/lib/kube let/it''s.yaml' -KubeconfigPath '/etc/kubernetes/kubelet.conf' -NodeName 'node1' -Verbose`""))
        $service.ExecStart | Should -Be ($unit -split "`n" | Where-Object { $_ -like 'ExecStart=*' }).Substring('ExecStart='.Length)
        (Get-Item $service.UnitPath).UnixFileMode | Should -Be ([System.IO.UnixFileMode]'UserRead, UserWrite, GroupRead, OtherRead')
        if (-not (Test-Path /run/systemd/system)) {
            $service.SystemdRunning | Should -BeFalse
            $service.Enabled | Should -BeFalse
            $warnings | Should -Match 'systemd does not run this machine'
        }
    }

    It 'changes nothing when run again with the same values, and refuses another unit of that name without -Force' {
        $first = Install-KubeletService -UnitDirectory $units -NodeName node1 -Confirm:$false -WarningAction SilentlyContinue
        $again = Install-KubeletService -UnitDirectory $units -NodeName node1 -Confirm:$false -WarningAction SilentlyContinue
        $again.UnitChanged | Should -BeFalse

        $err = { Install-KubeletService -UnitDirectory $units -NodeName node2 -Confirm:$false -WarningAction SilentlyContinue } | Should -Throw -PassThru
        $err.FullyQualifiedErrorId | Should -BeLike 'InstallKubeletServiceUnitExists*'
        $err.CategoryInfo.Category | Should -Be 'ResourceExists'
        $err.TargetObject | Should -Be $first.UnitPath
        Get-Content -Raw $first.UnitPath | Should -Match "-NodeName 'node1'"

        $forced = Install-KubeletService -UnitDirectory $units -NodeName node2 -Force -Confirm:$false -WarningAction SilentlyContinue
        $forced.UnitChanged | Should -BeTrue
        Get-Content -Raw $forced.UnitPath | Should -Match "-NodeName 'node2'"
    }

    It 'refuses a bad unit name and a missing pwsh with the field at fault' {
        $err = { Install-KubeletService 'kubelet ps' -UnitDirectory $units -Confirm:$false } | Should -Throw -PassThru
        $err.FullyQualifiedErrorId | Should -BeLike 'InstallKubeletServiceInvalidArgument*'
        $err.CategoryInfo.Category | Should -Be 'InvalidArgument'
        $err.TargetObject | Should -Be 'Name'

        $err = { Install-KubeletService -UnitDirectory $units -PwshPath (Join-Path $base 'no-pwsh') -Confirm:$false } | Should -Throw -PassThru
        $err.FullyQualifiedErrorId | Should -BeLike 'InstallKubeletServicePathNotFound*'
        $err.CategoryInfo.Category | Should -Be 'ObjectNotFound'
        Join-Path $units 'kubeletps.service' | Should -Not -Exist
    }
}

Describe 'Start-KubeletAgent run as a service' {
    BeforeAll {
        $cluster = Start-TestCluster -Directory (Join-Path $base 'cluster') -Node svc1
        $containerd = Start-TestContainerd -Directory (Join-Path $base 'ctd')
        $admin = Join-Path $cluster.Directory 'admin.conf'
    }

    AfterAll {
        if ($process -and -not $process.HasExited) { $process.Kill($true) }
        Stop-TestCluster $cluster
        Stop-TestContainerd -Containerd $containerd
    }

    It 'stops cleanly on SIGTERM (systemctl stop), leaving its pods running' {
        $root = Join-Path $base 'root'
        $command = "Import-Module '$(Get-TestModulePath)'; Start-KubeletAgent -KubeconfigPath '$(Join-Path $cluster.Directory 'node-svc1.conf')' -NodeName svc1 " +
            "-RuntimeEndpoint '$($containerd.Endpoint)' -RootDirectory '$root' -PodLogDirectory '$($containerd.PodLogDirectory)' -StaticPodPath '' -NodeIp 10.8.8.8 -Confirm:`$false -Verbose"
        $start = [System.Diagnostics.ProcessStartInfo]::new((Join-Path $PSHOME 'pwsh'))
        foreach ($a in '-NoLogo', '-NoProfile', '-NonInteractive', '-Command', $command) { $start.ArgumentList.Add($a) }
        $start.RedirectStandardOutput = $true
        $start.RedirectStandardError = $true
        $start.Environment['DOTNET_ROOT'] = Split-Path ([Environment]::ProcessPath)
        $script:process = [System.Diagnostics.Process]::Start($start)
        $stdout = $process.StandardOutput.ReadToEndAsync()
        $stderr = $process.StandardError.ReadToEndAsync()

        Wait-Until { (& kubectl --kubeconfig $admin get node svc1 -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>$null) -eq 'True' } 'svc1 is Ready'
        & kubectl --kubeconfig $admin run quiet --image kubeletps.local/busybox:latest --image-pull-policy IfNotPresent --overrides '{"spec":{"nodeName":"svc1"}}' -- sleep 3600 | Out-Null
        Wait-Until { (& kubectl --kubeconfig $admin get pod quiet -o jsonpath='{.status.phase}' 2>$null) -eq 'Running' } 'the pod is Running'

        & kill -TERM $process.Id
        $process.WaitForExit(60000) | Should -BeTrue -Because 'SIGTERM stops the agent'
        $output = $stdout.Result + $stderr.Result
        $process.ExitCode | Should -Be 0 -Because $output
        $output | Should -Match 'The agent of node svc1 stopped; its pods keep running'
        $pod = Get-KubeletPod -RuntimeEndpoint $containerd.Endpoint -RootDirectory $root | Where-Object Name -eq 'quiet'
        $pod.Phase | Should -Be 'Running'
    }
}
