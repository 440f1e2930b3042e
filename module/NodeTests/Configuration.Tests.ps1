# config.yaml and kubelet.conf as Get-KubeletConfig reads them. A field set that the agent does
# not act on is Inconclusive (a warning): kubeadm's config.yaml sets several, and the node works
# without them, but the administrator must not believe they are in effect.
param([Parameter(Mandatory)] $Node)

Describe 'Configuration' -Tag 'Configuration' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'NodeCheck.ps1')
        $configFile = if ($Node.ConfigPath) { $Node.ConfigPath } else { '/var/lib/kubelet/config.yaml' }
        $hasConfig = Test-Path -LiteralPath $configFile -PathType Leaf
        $hasKubeconfig = Test-Path -LiteralPath $Node.KubeconfigPath -PathType Leaf
        $config = $null; $problem = $null
        # Get-KubeletConfig reads config.yaml first, then kubelet.conf; its error names the file.
        $arguments = @{ ErrorAction = 'Stop' }
        if ($hasConfig) { $arguments.LiteralPath = $configFile }
        if ($hasKubeconfig) { $arguments.KubeconfigPath = $Node.KubeconfigPath }
        if ($hasConfig -or $hasKubeconfig) {
            try { $config = Get-KubeletConfig @arguments } catch { $problem = $_ }
        }
        $problemFile = if ($problem) { "$($problem.TargetObject)" }
    }

    It 'ConfigFileParses' {
        if (-not $hasConfig) { Set-ItResult -Skipped -Because "there is no kubelet configuration file at ${configFile}: the agent runs on kubelet's defaults"; return }
        if ($problem -and $problemFile -ne $Node.KubeconfigPath) {
            throw "$($problem.Exception.Message) Fix $configFile (Get-KubeletConfig -Path $configFile shows the error)."
        }
    }

    It 'KubeconfigParses' {
        if (-not $hasKubeconfig) { Set-ItResult -Skipped -Because "there is no kubeconfig at $($Node.KubeconfigPath) yet: the node has not joined a cluster (Join-KubeletCluster, or Request-KubeletCertificate with a bootstrap kubeconfig)"; return }
        if ($problem -and $problemFile -ne $Node.KubeconfigPath) { Set-ItResult -Skipped -Because "$configFile could not be read, so $($Node.KubeconfigPath) was not (see ConfigFileParses)"; return }
        if ($problem) { throw "$($problem.Exception.Message) Fix $($Node.KubeconfigPath) or rejoin the node." }
    }

    It 'AllFieldsInEffect' {
        if (-not $config -or -not $hasConfig) { Set-ItResult -Skipped -Because "no kubelet configuration file was read (see ConfigFileParses)"; return }
        $fields = @($config.NotInEffect)
        if ($fields.Count -gt 0) {
            Set-ItResult -Inconclusive -Because ("$($fields.Count) field(s) of $configFile are set but the agent does not act on them; remove them or do not rely on them: " + (($fields | ForEach-Object { "$($_.Field) (line $($_.Line): $($_.Reason))" }) -join '; '))
        }
    }
}
