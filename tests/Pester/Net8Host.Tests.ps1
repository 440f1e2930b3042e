# The net8.0 engine build is what PowerShell 7.4 LTS loads; this runs it on .NET 8 itself.
# tests/KubeletPS.Net8Host is published self-contained (the Microsoft.NETCore.App.Runtime.linux-x64
# 8.0 runtime pack from NuGet), loads out/KubeletPS/Dependencies/net8.0 and runs a config read,
# a node certificate check and a CRI Version call against a private containerd.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
    $engine = Join-Path (Split-Path (Get-TestModulePath)) 'Dependencies/net8.0'
    $hostOut = Join-Path (Get-TestRepoRoot) 'out/net8host'
    $project = Join-Path (Get-TestRepoRoot) 'tests/KubeletPS.Net8Host/KubeletPS.Net8Host.csproj'
    & dotnet publish $project -c Release -o $hostOut --nologo -v quiet
    if ($LASTEXITCODE -ne 0) { throw "dotnet publish $project failed with exit code $LASTEXITCODE" }
    $containerd = Start-TestContainerd
    $work = Join-Path $containerd.Directory 'net8host'
    $output = & (Join-Path $hostOut 'KubeletPS.Net8Host') $engine $work $containerd.Endpoint 2>&1
    $exitCode = $LASTEXITCODE
    $result = if ($exitCode -eq 0) { ($output | Select-Object -Last 1) | ConvertFrom-Json }
}

AfterAll {
    Stop-TestContainerd -Containerd $containerd
}

Describe 'The net8.0 engine on .NET 8' {
    It 'runs on a .NET 8 runtime from the shipped Dependencies/net8.0' {
        $exitCode | Should -Be 0 -Because "the host printed: $($output -join "`n")"
        $result.runtime | Should -Match '^8\.'
        $result.engine | Should -Be (Join-Path $engine 'KubeletPS.Core.dll')
    }

    It 'reads a KubeletConfiguration file' {
        $result.staticPodPath | Should -Be '/etc/kubernetes/net8-manifests'
        $result.clusterDomain | Should -Be 'net8.local'
    }

    It 'passes every check on a generated node certificate' {
        $result.certificatePassed | Should -BeTrue -Because ($result.certificateChecks -join ', ')
        $result.certificateChecks | Should -Contain 'ChainsToCA=True'
    }

    It 'calls CRI Version on containerd' {
        $result.runtimeName | Should -Be 'containerd'
        $result.runtimeApiVersion | Should -Be 'v1'
    }
}
