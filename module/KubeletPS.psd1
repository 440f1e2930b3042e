@{
    RootModule           = 'KubeletPS.dll'
    ModuleVersion        = '0.0.0' # stamped by build.ps1 from Directory.Build.props
    CompatiblePSEditions = @('Core')
    GUID                 = '6f0c6b2e-3d4c-4bd8-9f0e-6d1c2a7b9e41'
    Author               = 'KubeletPS contributors'
    CompanyName          = 'KubeletPS'
    Copyright            = '(c) KubeletPS contributors. Apache-2.0.'
    Description          = 'A Kubernetes node agent (kubelet) driven from PowerShell: inspect the node''s kubelet configuration and certificates, check API server access, register the node and run its pods through containerd.'
    PowerShellVersion    = '7.4'
    FormatsToProcess     = @('KubeletPS.Format.ps1xml')
    FunctionsToExport    = @()
    CmdletsToExport      = @(
        'Get-KubeletConfig'
        'Invoke-KubeletApiRequest'
        'Test-KubeletApiConnection'
        'Get-KubeletCertificate'
        'Test-KubeletCertificate'
        'Request-KubeletCertificate'
        'Update-KubeletCertificate'
        'Invoke-KubeletNodeRegistration'
        'Get-KubeletNode'
        'Start-KubeletNodeHeartbeat'
        'Get-KubeletContainerLog'
        'Get-KubeletPod'
        'Start-KubeletPodSync'
        'Start-KubeletAgent'
        'Install-KubeletService'
        'Test-KubeletNode'
        'Join-KubeletCluster'
        'Get-KubeletService'
        'Restart-KubeletService'
        'Uninstall-KubeletService'
        'Get-KubeletLog'
        'Get-KubeletStats'
        'Invoke-KubeletContainerCommand'
        'Invoke-KubeletGarbageCollection'
    )
    VariablesToExport    = @()
    AliasesToExport      = @(
        'Invoke-NodeRegistration'
        'Start-NodeHeartbeat'
        'Start-PodSync'
    )
    PrivateData          = @{
        PSData = @{
            Tags         = @('Kubernetes', 'kubelet', 'containerd', 'CRI', 'node', 'Linux')
            LicenseUri   = 'https://www.apache.org/licenses/LICENSE-2.0'
            # ProjectUri: the project has no public address yet and a manifest takes only an
            # absolute URI, so it stays unset rather than pointing at an invented one. Set it
            # (e.g. ProjectUri = 'https://...') when the repository is published; LICENSE at
            # the repository root holds the Apache-2.0 text LicenseUri names.
        }
    }
}
