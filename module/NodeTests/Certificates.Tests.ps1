# The node's client certificate as Test-KubeletCertificate checks it (one It per check it
# returns, so new checks appear here without a change), and the CA files the node relies on.
param([Parameter(Mandatory)] $Node)

BeforeDiscovery {
    $certificateChecks = @()
    if (Test-Path -LiteralPath $Node.KubeconfigPath -PathType Leaf) {
        $arguments = @{ KubeconfigPath = $Node.KubeconfigPath; Detailed = $true; ErrorAction = 'Stop' }
        if ($Node.NodeName) { $arguments.NodeName = $Node.NodeName }
        try {
            $certificateChecks = @(Test-KubeletCertificate @arguments | ForEach-Object { @{ Name = $_.Name; Passed = $_.Passed; Message = $_.Message } })
        }
        catch { $certificateChecks = @() }
    }
}

Describe 'Certificates' -Tag 'Certificates' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'NodeCheck.ps1')
        $hasKubeconfig = Test-Path -LiteralPath $Node.KubeconfigPath -PathType Leaf
    }

    It 'ClientCertificateReadable' {
        if (-not $hasKubeconfig) { Set-ItResult -Skipped -Because "there is no kubeconfig at $($Node.KubeconfigPath) yet: the node has no client certificate (Join-KubeletCluster or Request-KubeletCertificate)"; return }
        $arguments = @{ KubeconfigPath = $Node.KubeconfigPath; ErrorAction = 'Stop' }
        if ($Node.NodeName) { $arguments.NodeName = $Node.NodeName }
        try { $null = Test-KubeletCertificate @arguments }
        catch { throw "$($_.Exception.Message) The certificate $($Node.KubeconfigPath) names cannot be checked: rotate it (Request-KubeletCertificate -Force) or rejoin the node." }
    }

    It '<Name>' -ForEach $certificateChecks {
        if (-not $Passed) { throw "$Message Renew the client certificate (Request-KubeletCertificate -Force with a bootstrap kubeconfig) or rejoin the node." }
    }

    It 'CAFileReadable' {
        if (-not $hasKubeconfig) { Set-ItResult -Skipped -Because "there is no kubeconfig at $($Node.KubeconfigPath) yet"; return }
        $arguments = @{ KubeconfigPath = $Node.KubeconfigPath; ErrorAction = 'Stop' }
        if ($Node.ConfigPath) { $arguments.LiteralPath = $Node.ConfigPath }
        try { $config = Get-KubeletConfig @arguments }
        catch { Set-ItResult -Skipped -Because "the configuration could not be read (see the Configuration group): $($_.Exception.Message)"; return }
        $problems = @()
        $files = @()
        if ($config.CertificateAuthority -and $config.CertificateAuthority -ne 'embedded') { $files += $config.CertificateAuthority }
        if ($config.ClientCAFile) { $files += $config.ClientCAFile }
        foreach ($file in $files) {
            try { $text = [IO.File]::ReadAllText($file) } catch { $problems += "$file cannot be read: $($_.Exception.InnerException.Message)"; continue }
            if ($text -notmatch '-----BEGIN CERTIFICATE-----') { $problems += "$file holds no PEM certificate" }
        }
        if ($problems) { throw (($problems -join '; ') + ': restore the cluster CA certificate (kubeadm: /etc/kubernetes/pki/ca.crt, from the control plane).') }
    }
}
