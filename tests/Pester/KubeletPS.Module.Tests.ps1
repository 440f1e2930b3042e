BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
    $script:modulePath = Get-TestModulePath
    $script:cmdlets = & {
        Import-Module $modulePath -Force
        (Get-Module KubeletPS).ExportedCmdlets.Keys | Sort-Object
        Remove-Module KubeletPS
    }
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
    $modulePath = Get-TestModulePath
    $moduleRoot = Split-Path $modulePath
}

Describe 'KubeletPS module' {
    It 'has a valid manifest with a version' {
        $manifest = Test-ModuleManifest -Path $modulePath
        $manifest.Version | Should -BeGreaterThan ([version]'0.0.0')
        $manifest.PowerShellVersion | Should -Be ([version]'7.4')
    }

    It 'lists its exports explicitly, without wildcards' {
        $data = Import-PowerShellDataFile $modulePath
        foreach ($key in 'CmdletsToExport', 'FunctionsToExport', 'AliasesToExport', 'VariablesToExport') {
            @($data[$key]) -join ',' | Should -Not -Match '\*' -Because "$key must not use wildcards"
        }
        @($data.CmdletsToExport).Count | Should -BeGreaterThan 0
    }

    It 'exports exactly the cmdlets the manifest lists' {
        $data = Import-PowerShellDataFile $modulePath
        $exported = pwsh -NoProfile -Command "Import-Module '$modulePath'; (Get-Module KubeletPS).ExportedCmdlets.Keys" 2>&1
        ($exported | Sort-Object) -join ',' | Should -Be ((@($data.CmdletsToExport) | Sort-Object) -join ',')
    }

    It 'keeps its engine and dependencies under Dependencies/, apart from the cmdlet assembly' {
        Get-ChildItem $moduleRoot -Filter *.dll | ForEach-Object Name | Should -Be 'KubeletPS.dll'
        foreach ($framework in 'net8.0', 'net10.0') {
            foreach ($dll in 'KubeletPS.Core.dll', 'KubernetesClient.dll', 'YamlDotNet.dll', 'BouncyCastle.Cryptography.dll') {
                Join-Path $moduleRoot "Dependencies/$framework/$dll" | Should -Exist
            }
        }
    }

    It 'ships the engine precompiled (ReadyToRun) for each runtime, and loads the build for this one' {
        # A ReadyToRun image is marked ILLibrary (crossgen2's COMIMAGE_FLAGS_IL_LIBRARY) and carries a managed native
        # header (the R2R header) next to its IL; BouncyCastle is left as IL (ILOnly, no native header).
        function Test-ReadyToRun([string] $Path) {
            $stream = [IO.File]::OpenRead($Path)
            try {
                $cor = ([Reflection.PortableExecutable.PEReader]::new($stream)).PEHeaders.CorHeader
                $cor.Flags.HasFlag([Reflection.PortableExecutable.CorFlags]::ILLibrary) -and $cor.ManagedNativeHeaderDirectory.Size -gt 0
            }
            finally { $stream.Dispose() }
        }
        foreach ($framework in 'net8.0', 'net10.0') {
            foreach ($dll in 'KubeletPS.Core.dll', 'KubernetesClient.dll', 'YamlDotNet.dll', 'Google.Protobuf.dll', 'Grpc.Net.Client.dll') {
                Test-ReadyToRun (Join-Path $moduleRoot "Dependencies/$framework/$dll") | Should -BeTrue -Because "$framework/$dll"
            }
            Test-ReadyToRun (Join-Path $moduleRoot "Dependencies/$framework/BouncyCastle.Cryptography.dll") | Should -BeFalse
        }
        # The location goes to a file: the runtime's JIT list is written to the same stdout from other threads, mid-line.
        $locationFile = Join-Path ([IO.Path]::GetTempPath()) "kubeletps-r2r-location-$PID.txt"
        $script = "Import-Module '$modulePath'; `$null = Get-KubeletConfig -Path '$(Join-Path (Get-TestRepoRoot) 'tests/Pester/data/kubeadm/config.yaml')'; " +
            "[AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { `$_.GetName().Name -eq 'KubeletPS.Core' } | ForEach-Object Location | Set-Content -LiteralPath '$locationFile'"
        # The runtime lists every method it compiles (release runtimes too): none of the engine's may be
        # compiled from IL at first call (Tier0), i.e. the precompiled code was taken. The list goes to stdout:
        # with DOTNET_JitStdOutFile the runtime closed that file at exit while its JIT threads still wrote to it,
        # and 4 runs in 40 died in free() (exit 134/139) after our script had finished; on stdout 0 in 40.
        $env:DOTNET_JitDisasmSummary = '1'
        try { $output = @(pwsh -NoProfile -NonInteractive -Command $script 2>&1 | ForEach-Object { "$_" }) }
        finally { Remove-Item env:DOTNET_JitDisasmSummary }
        $LASTEXITCODE | Should -Be 0 -Because (($output | Select-Object -Last 20) -join "`n")
        $jitLines = @($output | Where-Object { $_ -match 'JIT compiled ' })
        $expected = if ([Environment]::Version.Major -ge 10) { 'net10.0' } else { 'net8.0' }
        try { Get-Content -LiteralPath $locationFile | Should -Be (Join-Path $moduleRoot "Dependencies/$expected/KubeletPS.Core.dll") }
        finally { Remove-Item -LiteralPath $locationFile -ErrorAction Ignore }
        @($jitLines | Where-Object { $_ -match 'JIT compiled (KubeletPS\.Core|YamlDotNet)\..*\[(Instrumented )?Tier0,' }) | Should -BeNullOrEmpty
        $jitLines.Count | Should -BeGreaterThan 100 -Because 'the runtime lists the methods it compiled'
    }

    It 'publishes as a package that Save-PSResource installs and that imports' {
        # What ./build.ps1 Package does, against a throw-away local repository.
        $repoDir = Join-Path ([IO.Path]::GetTempPath()) "kubeletps-repo-$PID"
        $installDir = Join-Path ([IO.Path]::GetTempPath()) "kubeletps-installed-$PID"
        $null = New-Item -ItemType Directory -Force $repoDir, $installDir
        $name = "kubeletps-test-$PID"
        Register-PSResourceRepository -Name $name -Uri $repoDir -Trusted
        try {
            Publish-PSResource -Path $moduleRoot -Repository $name
            $version = (Import-PowerShellDataFile $modulePath).ModuleVersion
            Get-ChildItem $repoDir -Filter "KubeletPS.$version.nupkg" | Should -Not -BeNullOrEmpty
            Save-PSResource -Name KubeletPS -Repository $name -Path $installDir -TrustRepository
            $installed = Join-Path $installDir "KubeletPS/$version/KubeletPS.psd1"
            $installed | Should -Exist
            $count = pwsh -NoProfile -Command "Import-Module '$installed'; (Get-Command -Module KubeletPS -CommandType Cmdlet).Count"
            [int]$count | Should -Be @((Import-PowerShellDataFile $modulePath).CmdletsToExport).Count
        }
        finally {
            Unregister-PSResourceRepository -Name $name
            Remove-Item -Recurse -Force $repoDir, $installDir -ErrorAction Ignore
        }
    }

    It 'keeps the engine''s dependencies out of the cmdlet assembly' {
        # Cmdlets may use only KubeletPS.Core's own types: anything else would load into the
        # default context and clash with other modules (or fail to load at all).
        $references = pwsh -NoProfile -Command "Import-Module '$modulePath'; (Get-Module KubeletPS).ImplementingAssembly.GetReferencedAssemblies().Name" 2>&1
        $references | Should -Contain 'KubeletPS.Core'
        $references | Where-Object { $_ -match '^(KubernetesClient|YamlDotNet|BouncyCastle|Grpc|Google\.Protobuf)' } | Should -BeNullOrEmpty
    }

    It 'imports in a new pwsh in which another module already loaded a different YamlDotNet' {
        $nuget = if ($env:NUGET_PACKAGES) { $env:NUGET_PACKAGES } else { Join-Path $HOME '.nuget/packages' }
        $otherYaml = Join-Path $nuget 'yamldotnet/16.3.0/lib/net8.0/YamlDotNet.dll'
        $otherYaml | Should -Exist -Because 'tests/Pester/Pester.Restore.csproj downloads YamlDotNet 16.3.0 for this test'
        $script = @"
`$ErrorActionPreference = 'Stop'
Add-Type -Path '$otherYaml'
Import-Module '$modulePath'
`$config = Get-KubeletConfig -Path '$(Join-Path (Get-TestRepoRoot) 'tests/Pester/data/kubeadm/config.yaml')' -KubeconfigPath '$(Join-Path (Get-TestRepoRoot) 'tests/Pester/data/kubeadm/kubelet.conf')'
`$loaded = [AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { `$_.GetName().Name -eq 'YamlDotNet' } | ForEach-Object { `$_.GetName().Version.Major }
"`$(`$config.ClusterDomain)|`$((`$loaded | Sort-Object) -join ',')"
"@
        $result = pwsh -NoProfile -NonInteractive -Command $script 2>&1
        $LASTEXITCODE | Should -Be 0 -Because ($result -join "`n")
        @($result)[-1] | Should -Be 'cluster.local|16,18' # @(): one line of output is a string, not an array
    }
}

Describe 'Help for <_>' -ForEach $cmdlets {
    BeforeAll {
        Import-Module $modulePath -Force
        $name = $_
        $help = Get-Help $name -Full
        $command = Get-Command $name
    }

    It 'has a synopsis and a description' {
        $help.Synopsis | Should -Not -BeNullOrEmpty
        $help.Synopsis | Should -Not -Match "^\s*$name\s*\["
        ($help.description.Text -join '') | Should -Not -BeNullOrEmpty
    }

    It 'has at least one example with code' {
        @($help.examples.example).Count | Should -BeGreaterThan 0
        $help.examples.example[0].code | Should -Match $name
    }

    It 'describes every parameter' {
        $common = [System.Management.Automation.Cmdlet]::CommonParameters + [System.Management.Automation.Cmdlet]::OptionalCommonParameters
        foreach ($parameter in $command.Parameters.Keys | Where-Object { $_ -notin $common }) {
            $doc = $help.parameters.parameter | Where-Object name -eq $parameter
            ($doc.description.Text -join '') | Should -Not -BeNullOrEmpty -Because "-$parameter needs a description"
        }
    }

    It 'declares its output type' {
        $command.OutputType | Should -Not -BeNullOrEmpty
    }

    It 'uses an approved verb and the Kubelet noun prefix' {
        (Get-Verb).Verb | Should -Contain $command.Verb
        $command.Noun | Should -BeLike 'Kubelet*'
    }
}
