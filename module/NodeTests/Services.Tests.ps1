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

        function Assert-KubeletServiceRunning([string] $Name, [string] $Install, [switch] $Agent) {
            if ($cannot) { Set-ItResult -Skipped -Because $cannot; return }
            try {
                # The agent's unit is the one Get-KubeletService marks IsAgent (Install-KubeletService may have named it otherwise).
                $service = if ($Agent) { Get-KubeletService -ErrorAction Stop | Where-Object { $_.PSObject.Properties['IsAgent'] -and $_.IsAgent } | Select-Object -First 1 }
                if (-not $service) { $service = Get-KubeletService -Name $Name -ErrorAction Stop | Select-Object -First 1 }
            }
            catch {
                if ($_.FullyQualifiedErrorId -like '*NoSystemd*') { Set-ItResult -Skipped -Because $_.Exception.Message; return }
                if ($_.FullyQualifiedErrorId -like 'GetKubeletServiceNotFound*') { throw "$Name.service does not exist: $Install." }
                throw "$Name.service cannot be read: $($_.Exception.Message)"
            }
            if (-not $service -or $service.LoadState -eq 'not-found' -or $service.UnitFileState -eq 'not-found') { throw "$Name.service does not exist: $Install." }
            $unit = $service.Name -replace '\.service$', ''
            $problems = @()
            if ($service.UnitFileState -notin 'enabled', 'static') { $problems += "it is $($service.UnitFileState), run 'systemctl enable $unit'" }
            if ($service.ActiveState -ne 'active') { $problems += "it is $($service.ActiveState) ($($service.SubState)), run 'systemctl start $unit' and read 'Get-KubeletLog -Unit $unit'" }
            if ($problems) { throw "$unit.service: $($problems -join '; ')." }
        }
    }

    It 'ContainerdService' { Assert-KubeletServiceRunning containerd 'install containerd (Debian: apt-get install containerd)' }
    It 'AgentService' { Assert-KubeletServiceRunning kubeletps 'install the agent''s unit (Install-KubeletService -Start)' -Agent }
}
