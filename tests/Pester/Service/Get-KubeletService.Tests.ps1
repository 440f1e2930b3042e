# Get-KubeletService, Restart-/Uninstall-/Install-KubeletService and Get-KubeletLog against a real
# systemd: a Debian machine booted in systemd-nspawn (Start-TestSystemd), with the built module, this
# pwsh and the dotnet root bound read-only inside, so the cmdlets run there as on a node. The agent's
# unit runs the real agent, registering node nsp1 with the test API server on the host (nspawn shares
# the host's network); there is no containerd inside, so it runs no pods.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../TestSupport.psm1') -Force
    Import-Module (Get-TestModulePath) -Force
    $base = Join-Path '/tmp' ('kpsd-' + [guid]::NewGuid().ToString('N').Substring(0, 6))
    $null = New-Item -ItemType Directory -Path $base
    $machine = Start-TestSystemd -BindReadOnly $base
    if (-not $machine.SkipReason) {
        Write-Host "nspawn machine $($machine.Name): booted in $($machine.BootSeconds) s; cached root built in $($machine.BuildSeconds) s (0: already cached)"
        $cluster = Start-TestCluster -Directory (Join-Path $base 'cluster') -Node nsp1
        $admin = Join-Path $cluster.Directory 'admin.conf'
        $kubeconfig = Join-Path $cluster.Directory 'node-nsp1.conf'
        $configDir = Join-Path $machine.Root 'etc/kubeletps'
        $null = New-Item -ItemType Directory -Force $configDir
        # json: MESSAGE is kubelet's JSON line; verbosity 3: the events kubelet logs at V(3) are kept.
        Set-Content (Join-Path $configDir 'config.yaml') "apiVersion: kubelet.config.k8s.io/v1beta1`nkind: KubeletConfiguration`nstaticPodPath: `"`"`nlogging:`n  format: json`n  verbosity: 3`n"
        $manifest = Get-TestModulePath
        $version = (Import-PowerShellDataFile $manifest).ModuleVersion
    }
}

AfterAll {
    Stop-TestSystemd $machine
    if ($cluster) { Stop-TestCluster $cluster }
    Remove-Item -Recurse -Force $base -ErrorAction Ignore
}

Describe 'Get-KubeletService' {
    It 'says that systemd does not run this machine: NoSystemd, ResourceUnavailable, never a process error' -Skip:(Test-Path /run/systemd/system) {
        $err = Get-ErrorRecord { Get-KubeletService }
        $err.FullyQualifiedErrorId | Should -BeLike 'GetKubeletServiceNoSystemd*'
        $err.CategoryInfo.Category | Should -Be 'ResourceUnavailable'
        $err.Exception.Message | Should -Match 'systemd does not run this machine'
        $err = Get-ErrorRecord { Get-KubeletService -All }
        $err.FullyQualifiedErrorId | Should -BeLike 'GetKubeletServiceNoSystemd*'
        $err = Get-ErrorRecord { Restart-KubeletService -Confirm:$false -ErrorAction Stop }
        $err.FullyQualifiedErrorId | Should -BeLike 'RestartKubeletServiceNoSystemd*'
        $err.CategoryInfo.Category | Should -Be 'ResourceUnavailable'
        $err = Get-ErrorRecord { Uninstall-KubeletService -Confirm:$false -ErrorAction Stop }
        $err.FullyQualifiedErrorId | Should -BeLike 'UninstallKubeletServiceNoSystemd*'
    }

    It 'inside systemd: Install-KubeletService -Start installs, enables and starts the agent; it is listed enabled and active with its MainPID and what it runs' {
        if ($machine.SkipReason) { Set-ItResult -Skipped -Because $machine.SkipReason; return }
        $installed = Invoke-PwshInTestSystemd $machine "Install-KubeletService -KubeconfigPath '$kubeconfig' -ConfigPath /etc/kubeletps/config.yaml -NodeName nsp1 -Start -Confirm:`$false"
        $installed.ErrorId | Should -BeNullOrEmpty -Because $installed.Message
        $installed.SystemdRunning | Should -BeTrue
        $installed.Enabled | Should -BeTrue
        $installed.Active | Should -BeTrue

        $services = Invoke-PwshInTestSystemd $machine 'Get-KubeletService'
        $services.Name | Should -Contain 'containerd.service'
        $services.Name | Should -Contain 'network-online.target' -Because 'the agent unit names it in Wants= and After='
        # The machine's containerd is Debian's package: its unit is loaded, enabled and running.
        $containerd = $services | Where-Object Name -eq 'containerd.service'
        $containerd.LoadState | Should -Be 'loaded'
        $containerd.UnitFileState | Should -Be 'enabled'
        $containerd.ActiveState | Should -Be 'active'
        $agent = $services | Where-Object Name -eq 'kubeletps.service'
        $agent.UnitFileState | Should -Be 'enabled'
        $agent.Enabled | Should -BeTrue
        $agent.ActiveState | Should -Be 'active'
        $agent.SubState | Should -Be 'running'
        $agent.MainPID | Should -BeGreaterThan 0
        $agent.Since | Should -Not -BeNullOrEmpty
        $agent.FragmentPath | Should -Be '/etc/systemd/system/kubeletps.service'
        $agent.IsAgent | Should -BeTrue
        $agent.ModuleManifestPath | Should -Be $manifest
        $agent.ModuleVersion | Should -Be $version
        $agent.ConfigPath | Should -Be '/etc/kubeletps/config.yaml'
        $agent.KubeconfigPath | Should -Be $kubeconfig
        $agent.NodeName | Should -Be 'nsp1'
        # The MainPID is the agent's pwsh (its command line, read inside the machine).
        (Invoke-InTestSystemd $machine cat "/proc/$($agent.MainPID)/cmdline") -replace "`0", ' ' | Should -Match 'Start-KubeletAgent'
        # And it is the real agent: the node registers with the API server on the host.
        Wait-Until { (& kubectl --kubeconfig $admin get node nsp1 -o name 2>$null) -eq 'node/nsp1' } 'node nsp1 is registered by the agent in the machine' -Seconds 120
    }

    It 'inside systemd: -Name shows one unit and reports a missing one as ObjectNotFound; -All lists the enabled services' {
        if ($machine.SkipReason) { Set-ItResult -Skipped -Because $machine.SkipReason; return }
        $one = Invoke-PwshInTestSystemd $machine 'Get-KubeletService -Name systemd-journald, no-such-unit -ErrorVariable e -ErrorAction SilentlyContinue; $e | ForEach-Object { [pscustomobject]@{ Error = $_.FullyQualifiedErrorId; Category = [string]$_.CategoryInfo.Category; Target = [string]$_.TargetObject } }'
        ($one | Where-Object Name -eq 'systemd-journald.service').ActiveState | Should -Be 'active'
        $missing = $one | Where-Object { $_.PSObject.Properties['Error'] }
        $missing.Error | Should -BeLike 'GetKubeletServiceNotFound*'
        $missing.Category | Should -Be 'ObjectNotFound'
        $missing.Target | Should -Be 'no-such-unit.service'

        $all = Invoke-PwshInTestSystemd $machine 'Get-KubeletService -All'
        $expected = Invoke-InTestSystemd $machine systemctl list-unit-files --type=service --state=enabled --plain --no-legend | ForEach-Object { ($_ -split '\s+')[0] }
        $all.Name | Sort-Object | Should -Be ($expected | Sort-Object)
        $all.Name | Should -Contain 'kubeletps.service'
        ($all | Where-Object Name -eq 'kubeletps.service').UnitFileState | Should -Be 'enabled'
    }
}

Describe 'Get-KubeletLog' {
    It 'says that systemd does not run this machine unless -JournalPath is given' -Skip:(Test-Path /run/systemd/system) {
        $err = Get-ErrorRecord { Get-KubeletLog }
        $err.FullyQualifiedErrorId | Should -BeLike 'GetKubeletLogNoSystemd*'
        $err.CategoryInfo.Category | Should -Be 'ResourceUnavailable'
        $err = Get-ErrorRecord { Get-KubeletLog -JournalPath (Join-Path $base 'no-journal') }
        $err.FullyQualifiedErrorId | Should -BeLike 'GetKubeletLogNotFound*'
        $err.CategoryInfo.Category | Should -Be 'ObjectNotFound'
    }

    It 'refuses a priority journalctl does not know, naming the parameter' {
        $err = Get-ErrorRecord { Get-KubeletLog -Priority loud -JournalPath $base }
        $err.FullyQualifiedErrorId | Should -BeLike 'GetKubeletLogInvalidArgument*'
        $err.CategoryInfo.Category | Should -Be 'InvalidArgument'
        $err.TargetObject | Should -Be 'Priority'
    }

    It "inside systemd: reads the agent's structured entries (kubelet's JSON MESSAGE, PRIORITY, VERBOSITY) and systemd's about its unit" {
        if ($machine.SkipReason) { Set-ItResult -Skipped -Because $machine.SkipReason; return }
        $script:registered = $null
        Wait-Until {
            $entries = Invoke-PwshInTestSystemd $machine 'Get-KubeletLog'
            $script:registered = $entries | Where-Object { $_.SyslogIdentifier -eq 'kubeletps' -and $_.Message -match 'registered with' } | Select-Object -First 1
            $script:entries = $entries
            $null -ne $script:registered
        } "the agent's journal has its registration entry" -Seconds 120
        $registered.Unit | Should -Be 'kubeletps.service'
        $registered.PriorityName | Should -Be 'info'
        $registered.Priority | Should -Be 6
        $registered.Verbosity | Should -Be 0
        $registered.Pid | Should -BeGreaterThan 0
        $registered.Hostname | Should -Be (Invoke-InTestSystemd $machine hostname)
        $line = $registered.Message | ConvertFrom-Json
        $line.msg | Should -Match '^node nsp1 registered with https://'
        $line.v | Should -Be 0
        $line.ts | Should -BeGreaterThan 0
        $entries | Where-Object { $_.Message -match '^Started kubeletps\.service' -or $_.Message -match '^Started KubeletPS node agent' } | Should -Not -BeNullOrEmpty -Because "systemd's own entries about the unit (UNIT=) are the unit's too"
    }

    It 'inside systemd: -Follow writes an entry logged after it started, as it arrives, and ends with the pipeline' {
        if ($machine.SkipReason) { Set-ItResult -Skipped -Because $machine.SkipReason; return }
        # A unit that logs 4 s after it starts; Get-KubeletLog follows it (journalctl -u matches what a unit logs
        # once the unit exists) and Select-Object -First 1 stops the pipeline at the first match, which must
        # end journalctl: before the fix, PowerShell stopped the pipeline without StopProcessing and it ran on.
        $followed = Invoke-PwshInTestSystemd $machine @'
systemd-run --quiet --unit kps-follow /bin/sh -c 'sleep 4; echo hello-follow; sleep 600' | Out-Null
$started = [DateTimeOffset]::UtcNow
$entry = Get-KubeletLog -Unit kps-follow -Grep '^hello-follow$' -Follow | Select-Object -First 1
$deadline = [DateTime]::UtcNow.AddSeconds(10)
while ((Get-Process journalctl -ErrorAction Ignore) -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 100 }
[pscustomobject]@{ Message = $entry.Message; Unit = $entry.Unit; After = ($entry.Time -gt $started); Journalctl = @(Get-Process journalctl -ErrorAction Ignore).Count }
'@ -TimeoutSeconds 90
        $followed.ErrorId | Should -BeNullOrEmpty -Because $followed.Message
        $followed.Message | Should -Be 'hello-follow'
        $followed.Unit | Should -Be 'kps-follow.service'
        $followed.After | Should -BeTrue
        $followed.Journalctl | Should -Be 0 -Because 'stopping the pipeline ends journalctl'
    }

    It 'reads a journal copied out of the machine with -JournalPath, on this host' {
        if ($machine.SkipReason) { Set-ItResult -Skipped -Because $machine.SkipReason; return }
        $null = Invoke-InTestSystemd $machine journalctl --sync
        $copy = Join-Path $base 'journal-copy'
        $source = @("/proc/$($machine.Pid)/root/var/log/journal", "/proc/$($machine.Pid)/root/run/log/journal") | Where-Object { Get-ChildItem $_ -Recurse -Filter *.journal -ErrorAction Ignore } | Select-Object -First 1
        $source | Should -Not -BeNullOrEmpty -Because 'journald keeps its files under /var/log/journal or /run/log/journal'
        Copy-Item -Recurse $source $copy
        $entries = Get-KubeletLog -JournalPath $copy
        $entries | Where-Object { $_.SyslogIdentifier -eq 'kubeletps' -and $_.Message -match 'registered with' } | Should -Not -BeNullOrEmpty
        $entries[0].PSObject.TypeNames[0] | Should -Be 'KubeletPS.Output.KubeletJournalEntry'
        $file = Get-ChildItem $copy -Recurse -Filter *.journal | Select-Object -First 1
        Get-KubeletLog -JournalPath $file.FullName -Unit '*' -Tail 5 | Should -HaveCount 5
        @(Get-KubeletLog -JournalPath $copy -Priority err -Unit kubeletps).Count | Should -BeLessThan @($entries).Count
    }
}

Describe 'Restart-KubeletService' {
    It 'inside systemd: -WhatIf changes nothing; a restart gives the agent a new MainPID' {
        if ($machine.SkipReason) { Set-ItResult -Skipped -Because $machine.SkipReason; return }
        $before = Invoke-PwshInTestSystemd $machine 'Get-KubeletService kubeletps'
        $same = Invoke-PwshInTestSystemd $machine 'Restart-KubeletService -WhatIf; Get-KubeletService kubeletps'
        $same.MainPID | Should -Be $before.MainPID
        $after = Invoke-PwshInTestSystemd $machine 'Restart-KubeletService -PassThru -Confirm:$false'
        $after.ErrorId | Should -BeNullOrEmpty -Because $after.Message
        $after.ActiveState | Should -Be 'active'
        $after.MainPID | Should -BeGreaterThan 0
        $after.MainPID | Should -Not -Be $before.MainPID
        $missing = Invoke-PwshInTestSystemd $machine 'Restart-KubeletService no-such-agent -Confirm:$false'
        $missing.ErrorId | Should -BeLike 'RestartKubeletServiceNotFound*'
        $missing.Category | Should -Be 'ObjectNotFound'
    }
}

Describe 'Uninstall-KubeletService' {
    It 'inside systemd: refuses a unit Install-KubeletService did not write; -WhatIf keeps the unit; it stops, disables and removes it, and systemctl cat fails afterwards' {
        if ($machine.SkipReason) { Set-ItResult -Skipped -Because $machine.SkipReason; return }
        Set-Content (Join-Path $machine.Root 'etc/systemd/system/handmade.service') "[Unit]`nDescription=not ours`n[Service]`nExecStart=/bin/sleep 600`n"
        $null = Invoke-InTestSystemd $machine systemctl daemon-reload
        $refused = Invoke-PwshInTestSystemd $machine 'Uninstall-KubeletService handmade -Confirm:$false'
        $refused.ErrorId | Should -BeLike 'UninstallKubeletServiceNotWrittenByInstall*'
        $refused.Category | Should -Be 'ResourceExists'
        $refused.Target | Should -Be '/etc/systemd/system/handmade.service'
        Join-Path $machine.Root 'etc/systemd/system/handmade.service' | Should -Exist

        $null = Invoke-PwshInTestSystemd $machine 'Uninstall-KubeletService -WhatIf'
        $null = Invoke-InTestSystemd $machine systemctl cat kubeletps.service
        $LASTEXITCODE | Should -Be 0

        $removed = Invoke-PwshInTestSystemd $machine 'Uninstall-KubeletService -Confirm:$false; Get-KubeletService kubeletps -ErrorAction SilentlyContinue'
        $removed | Should -BeNullOrEmpty
        $null = Invoke-InTestSystemd $machine systemctl cat kubeletps.service
        $LASTEXITCODE | Should -Not -Be 0 -Because 'the unit file is gone and systemd reloaded'
        Join-Path $machine.Root 'etc/systemd/system/kubeletps.service' | Should -Not -Exist
        $state = Invoke-InTestSystemd $machine systemctl is-active kubeletps.service
        $state | Should -Be 'inactive'
        Get-ChildItem (Join-Path $machine.Root 'etc/systemd/system') -Recurse -Filter kubeletps.service | Should -BeNullOrEmpty -Because 'disable removed the multi-user.target.wants link'
    }
}
