# containerd and the agent as systemd services, enabled and active (Get-KubeletService).
param([Parameter(Mandatory)] $Node)

Describe 'Services' -Tag 'Services' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'NodeCheck.ps1')
        $pid1 = Get-Content -LiteralPath /proc/1/comm -ErrorAction Ignore
        $cannot = if (-not (Get-Command Get-KubeletService -ErrorAction Ignore)) {
            'Get-KubeletService is not in this version of KubeletPS, so services cannot be checked'
        }
        elseif ($pid1 -ne 'systemd') {
            "systemd is not PID 1 on this machine (PID 1 is $pid1), so there are no services to check"
        }

        function Assert-KubeletServiceRunning([string] $Name, [string] $Install) {
            if ($cannot) { Set-ItResult -Skipped -Because $cannot; return }
            try { $service = Get-KubeletService -Name $Name -ErrorAction Stop | Select-Object -First 1 }
            catch { throw "$Name.service cannot be read: $($_.Exception.Message)" }
            if (-not $service -or $service.UnitFileState -eq 'not-found') { throw "$Name.service does not exist: $Install." }
            $problems = @()
            if ($service.UnitFileState -notin 'enabled', 'static') { $problems += "it is $($service.UnitFileState), run 'systemctl enable $Name'" }
            if ($service.ActiveState -ne 'active') { $problems += "it is $($service.ActiveState) ($($service.SubState)), run 'systemctl start $Name' and read 'Get-KubeletLog -Unit $Name'" }
            if ($problems) { throw "$Name.service: $($problems -join '; ')." }
        }
    }

    It 'ContainerdService' { Assert-KubeletServiceRunning containerd 'install containerd (Debian: apt-get install containerd)' }
    It 'AgentService' { Assert-KubeletServiceRunning kubeletps 'install the agent''s unit (Install-KubeletService -Start)' }
}
