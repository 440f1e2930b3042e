#requires -Version 7.4
<#
.SYNOPSIS
    Builds, tests, packages and runs KubeletPS.
.DESCRIPTION
    Tasks:
      Build      the importable module in out/KubeletPS (KubeletPS.psd1 at its root)
      Test       Build, then every xunit and Pester test; ends with "N passed, N failed"
      Package    Build, then a .nupkg in out/packages that Install-PSResource accepts
      Run        Build, then the main job (see README)
      Benchmark  Build, then the benchmarks whose figures README records
    Each task sets up what it needs: the dotnet local tools, NuGet packages and, when run
    as root on Debian, the OS packages (containerd, runc, busybox-static, CNI plugins).
.EXAMPLE
    dotnet tool restore && dotnet pwsh ./build.ps1 Test
#>
[CmdletBinding()]
param(
    [Parameter(Position = 0)]
    [ValidateSet('Build', 'Test', 'Package', 'Run', 'Benchmark')]
    [string] $Task = 'Build',

    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',

    # Only Pester tests whose file name matches, or only xunit tests matching this filter.
    [string] $PesterFilter = '*',
    [string] $XunitFilter,
    [switch] $SkipXunit,
    [switch] $SkipPester
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0

$RepoRoot = $PSScriptRoot
$OutDir = Join-Path $RepoRoot 'out'
$ModuleOut = Join-Path $OutDir 'KubeletPS'
$PesterVersion = '5.7.1'
$OsPackages = 'containerd', 'runc', 'busybox-static', 'containernetworking-plugins', 'iproute2', 'iptables', 'openssl', 'systemd-container', 'debootstrap', 'tmux', 'docker-registry', 'apache2-utils', 'skopeo'

function Invoke-Native {
    # Runs a native command with the rest of the arguments; a non-zero exit stops the build.
    $file, $rest = $args
    $rest = @($rest | ForEach-Object { $_ })
    & $file @rest
    if ($LASTEXITCODE -ne 0) { throw "$file $($rest -join ' ') failed with exit code $LASTEXITCODE" }
}

function Get-ModuleVersion {
    $props = [xml](Get-Content -Raw (Join-Path $RepoRoot 'Directory.Build.props'))
    ($props.Project.PropertyGroup | Where-Object { $_['Version'] } | Select-Object -First 1).Version
}

function Install-OsPackage {
    # The runtime tests start a private containerd; they need these Debian packages.
    if (-not $IsLinux -or -not (Get-Command dpkg-query -ErrorAction Ignore)) { return }
    $missing = @($OsPackages | Where-Object {
            (& dpkg-query -W -f '${Status}' $_ 2>$null) -ne 'install ok installed'
        })
    $needKubectl = -not (Get-Command kubectl -ErrorAction Ignore)
    if ($needKubectl) { $missing += 'kubernetes-client' }
    if ($missing.Count -eq 0) { return }
    if ((& id -u) -ne '0') {
        Write-Warning "Missing Debian packages: $($missing -join ', '). Run as root, or 'sudo apt-get install $($missing -join ' ')'; the container runtime tests will fail without them."
        return
    }
    Write-Host "Installing Debian packages: $($missing -join ', ')"
    $env:DEBIAN_FRONTEND = 'noninteractive'
    Invoke-Native apt-get update -qq
    Invoke-Native apt-get install -y -qq --no-install-recommends @missing
}

function Invoke-Build {
    Push-Location $RepoRoot
    try {
        Invoke-Native dotnet tool restore
        if (Test-Path $ModuleOut) { Remove-Item -Recurse -Force $ModuleOut }
        $null = New-Item -ItemType Directory -Force $ModuleOut

        # The engine and its dependencies go to Dependencies/<framework>, loaded by EngineLoadContext:
        # one build per runtime the module supports, each precompiled (ReadyToRun) against it.
        foreach ($framework in 'net8.0', 'net10.0') {
            Invoke-Native dotnet publish src/KubeletPS.Core/KubeletPS.Core.csproj -c $Configuration --nologo -v quiet `
                -f $framework -r linux-x64 --self-contained false '-p:PublishReadyToRun=true' `
                -o (Join-Path $ModuleOut "Dependencies/$framework")
        }
        # The cmdlet assembly sits at the module root, alone.
        Invoke-Native dotnet build src/KubeletPS/KubeletPS.csproj -c $Configuration --nologo -v quiet
        $cmdletBin = Join-Path $RepoRoot "src/KubeletPS/bin/$Configuration/net8.0"
        Copy-Item (Join-Path $cmdletBin 'KubeletPS.dll'), (Join-Path $cmdletBin 'KubeletPS.pdb') $ModuleOut

        $version = Get-ModuleVersion
        (Get-Content -Raw (Join-Path $RepoRoot 'module/KubeletPS.psd1')) -replace "ModuleVersion(\s*)= '0\.0\.0'[^\r\n]*", "ModuleVersion`$1= '$version'" |
            Set-Content -NoNewline (Join-Path $ModuleOut 'KubeletPS.psd1')
        Copy-Item (Join-Path $RepoRoot 'module/KubeletPS.Format.ps1xml') $ModuleOut
        if (Test-Path (Join-Path $RepoRoot 'module/KubeletPS.Types.ps1xml')) {
            Copy-Item (Join-Path $RepoRoot 'module/KubeletPS.Types.ps1xml') $ModuleOut
        }
        Copy-Item (Join-Path $RepoRoot 'module/examples') $ModuleOut -Recurse -ErrorAction Ignore
        # Test-KubeletNode's Pester suite, one file per group.
        Copy-Item (Join-Path $RepoRoot 'module/NodeTests') $ModuleOut -Recurse

        # Help: MAML generated from module/help/*.md and the cmdlets' own metadata, in a clean pwsh.
        $helpScript = Join-Path $RepoRoot 'module/help/ConvertTo-MamlHelp.ps1'
        Invoke-Native dotnet pwsh -NoProfile -NonInteractive -File $helpScript -ModulePath (Join-Path $ModuleOut 'KubeletPS.psd1') `
            -MarkdownPath (Join-Path $RepoRoot 'module/help') -OutputPath (Join-Path $ModuleOut 'en-US/KubeletPS.dll-Help.xml')

        $manifest = Test-ModuleManifest -Path (Join-Path $ModuleOut 'KubeletPS.psd1')
        Write-Host "Built KubeletPS $($manifest.Version) in $ModuleOut"
    }
    finally { Pop-Location }
}

function Get-PesterModulePath {
    $nugetRoot = if ($env:NUGET_PACKAGES) { $env:NUGET_PACKAGES } else { Join-Path $HOME '.nuget/packages' }
    $path = Join-Path $nugetRoot "pester/$PesterVersion/tools/Pester.psd1"
    if (-not (Test-Path $path)) {
        Invoke-Native dotnet restore (Join-Path $RepoRoot 'tests/Pester/Pester.Restore.csproj') --nologo -v quiet
    }
    $path
}

function Invoke-XunitTest {
    $results = Join-Path $OutDir 'test-results'
    if (Test-Path $results) { Remove-Item -Recurse -Force $results }
    $arguments = @('test', (Join-Path $RepoRoot 'KubeletPS.sln'), '-c', $Configuration, '--nologo', '--no-build',
        '--logger', 'trx;LogFilePrefix=xunit', '--results-directory', $results)
    if ($XunitFilter) { $arguments += '--filter', $XunitFilter }
    & dotnet @arguments | Out-Host
    $passed = 0; $failed = 0; $failures = @()
    foreach ($trx in Get-ChildItem $results -Filter *.trx -ErrorAction Ignore) {
        $run = ([xml](Get-Content -Raw $trx.FullName)).TestRun
        $counters = $run.ResultSummary.Counters
        $passed += [int]$counters.passed
        $failed += [int]$counters.failed + [int]$counters.error + [int]$counters.timeout + [int]$counters.aborted
        # The names again at the end, so the last lines of a long log say what failed.
        foreach ($result in @($run.Results.UnitTestResult | Where-Object { $_ -and $_.outcome -ne 'Passed' -and $_.outcome -ne 'NotExecuted' })) {
            $message = "$($result.Output.ErrorInfo.Message)".Trim() -split "`n" | Select-Object -First 1
            $failures += "xunit  $($result.testName): $message"
        }
    }
    if ($LASTEXITCODE -ne 0 -and $failed -eq 0) { $failed = 1; Write-Warning 'dotnet test failed before reporting results (build error?)' }
    [pscustomobject]@{ Passed = $passed; Failed = $failed; Failures = $failures }
}

function Invoke-PesterTest {
    $pester = Get-PesterModulePath
    $resultFile = Join-Path $OutDir 'pester-results.xml'
    # A new pwsh so the tests see the module exactly as a user's fresh session would.
    $script = @"
`$ErrorActionPreference = 'Stop'
Import-Module '$pester'
`$config = New-PesterConfiguration
`$config.Run.Path = Get-ChildItem '$(Join-Path $RepoRoot 'tests/Pester')' -Recurse -Filter '*.Tests.ps1' | Where-Object Name -like '$PesterFilter' | ForEach-Object FullName
`$config.Run.PassThru = `$true
`$config.Output.Verbosity = 'Detailed'
`$config.TestResult.Enabled = `$true
`$config.TestResult.OutputPath = '$resultFile'
`$env:KUBELETPS_MODULE = '$(Join-Path $ModuleOut 'KubeletPS.psd1')'
`$env:KUBELETPS_REPO = '$RepoRoot'
`$r = Invoke-Pester -Configuration `$config
foreach (`$f in @(`$r.Failed) + @(`$r.FailedBlocks) + @(`$r.FailedContainers)) {
    if (-not `$f) { continue }
    `$name = if (`$f.ExpandedPath) { `$f.ExpandedPath } elseif (`$f.Item) { "`$(`$f.Item)" } else { "`$(`$f.Name)" }
    `$message = "`$(`$f.ErrorRecord | Select-Object -First 1)".Trim() -split "``n" | Select-Object -First 1
    "PESTER-FAILED `${name}: `$message"
}
"PESTER-COUNTS `$(`$r.PassedCount) `$(`$r.FailedCount + `$r.FailedBlocksCount + `$r.FailedContainersCount)"
"@
    $passed = 0; $failed = 0; $sawCounts = $false; $failures = @()
    & dotnet pwsh -NoProfile -NonInteractive -Command $script | ForEach-Object {
        if ($_ -match '^PESTER-COUNTS (\d+) (\d+)$') { $passed = [int]$Matches[1]; $failed = [int]$Matches[2]; $sawCounts = $true }
        elseif ($_ -match '^PESTER-FAILED (.*)$') { $failures += "Pester $($Matches[1])" }
        else { $_ | Out-Host }
    }
    if (-not $sawCounts) { $failed = 1; Write-Warning 'Pester did not report results' }
    [pscustomobject]@{ Passed = $passed; Failed = $failed; Failures = $failures }
}

switch ($Task) {
    'Build' { Invoke-Build }
    'Test' {
        Install-OsPackage
        Invoke-Build
        # The test projects, the test cluster and the benchmarks, once for xunit and Pester.
        Invoke-Native dotnet build (Join-Path $RepoRoot 'KubeletPS.sln') -c $Configuration --nologo -v quiet
        $totals = @()
        if (-not $SkipXunit) { $totals += Invoke-XunitTest }
        if (-not $SkipPester) { $totals += Invoke-PesterTest }
        $passed = ($totals | Measure-Object Passed -Sum).Sum
        $failed = ($totals | Measure-Object Failed -Sum).Sum
        $failures = @($totals | ForEach-Object { $_.Failures })
        if ($failures.Count -gt 0) { 'Failed:'; $failures | ForEach-Object { "  $_" } }
        "$passed passed, $failed failed"
        if ($failed -gt 0 -or $passed -eq 0) { exit 1 }
    }
    'Package' {
        Invoke-Build
        $repo = Join-Path $OutDir 'packages'
        $null = New-Item -ItemType Directory -Force $repo
        $name = "KubeletPS-build-$PID"
        Register-PSResourceRepository -Name $name -Uri $repo -Trusted
        try { Publish-PSResource -Path $ModuleOut -Repository $name }
        finally { Unregister-PSResourceRepository -Name $name }
        Get-ChildItem $repo -Filter *.nupkg | ForEach-Object { Write-Host "Package: $($_.FullName)" }
    }
    'Run' {
        Install-OsPackage
        Invoke-Build
        Invoke-Native dotnet build (Join-Path $RepoRoot 'tests/KubeletPS.TestCluster') -c $Configuration --nologo -v quiet
        & (Join-Path $RepoRoot 'tests/run-main-job.ps1') -ModulePath (Join-Path $ModuleOut 'KubeletPS.psd1')
    }
    'Benchmark' {
        Install-OsPackage
        Invoke-Build
        # The benchmark program with the engine precompiled (ReadyToRun) for .NET 10, as Dependencies/net10.0 ships it.
        Invoke-Native dotnet publish (Join-Path $RepoRoot 'tests/KubeletPS.Benchmarks/KubeletPS.Benchmarks.csproj') -c $Configuration `
            --nologo -v quiet -r linux-x64 --self-contained false '-p:PublishReadyToRun=true' -o (Join-Path $OutDir 'benchmarks')
        # KubeletServer.Benchmark.ps1 runs the test API server as its own process.
        Invoke-Native dotnet build (Join-Path $RepoRoot 'tests/KubeletPS.TestCluster') -c $Configuration --nologo -v quiet
        Get-ChildItem (Join-Path $RepoRoot 'tests/benchmarks') -Filter '*.ps1' | ForEach-Object {
            Write-Host "== $($_.BaseName)"
            & dotnet pwsh -NoProfile -NonInteractive -File $_.FullName -ModulePath (Join-Path $ModuleOut 'KubeletPS.psd1')
        }
    }
}
