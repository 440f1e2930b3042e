# Shared helpers for the Pester tests: where the built module and the test cluster are, and
# how to start the test API server (tests/KubeletPS.TestCluster) as a user would.
Set-StrictMode -Version 3.0

function Get-TestRepoRoot {
    if ($env:KUBELETPS_REPO) { return $env:KUBELETPS_REPO }
    (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
}

function Get-TestModulePath {
    if ($env:KUBELETPS_MODULE) { return $env:KUBELETPS_MODULE }
    Join-Path (Get-TestRepoRoot) 'out/KubeletPS/KubeletPS.psd1'
}

function Get-TestClusterDll {
    $root = Get-TestRepoRoot
    foreach ($configuration in 'Release', 'Debug') {
        $dll = Join-Path $root "tests/KubeletPS.TestCluster/bin/$configuration/net10.0/KubeletPS.TestCluster.dll"
        if (Test-Path $dll) { return $dll }
    }
    throw 'KubeletPS.TestCluster is not built: run ./build.ps1 Test (it builds the solution first).'
}

function Invoke-TestClusterCommand {
    # Runs a one-shot subcommand of the test cluster program (e.g. 'pki') and returns its output.
    param([Parameter(Mandatory)][string[]] $ArgumentList)
    $output = & dotnet (Get-TestClusterDll) @ArgumentList 2>&1
    if ($LASTEXITCODE -ne 0) { throw "KubeletPS.TestCluster $($ArgumentList -join ' ') failed ($LASTEXITCODE): $output" }
    $output
}

function Start-TestCluster {
    # Starts the test API server as its own process; returns an object with Dir, Url, Process.
    param([Parameter(Mandatory)][string] $Directory, [string[]] $Node = @(), [int] $TimeoutSeconds = 60)
    $arguments = @((Get-TestClusterDll), '--dir', $Directory)
    foreach ($n in $Node) { $arguments += '--node', $n }
    $null = New-Item -ItemType Directory -Force $Directory
    $log = Join-Path $Directory 'server.log'
    $process = Start-Process dotnet -ArgumentList $arguments -RedirectStandardOutput $log -RedirectStandardError "$log.err" -PassThru
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    while ([DateTime]::UtcNow -lt $deadline) {
        if ($process.HasExited) { throw "The test cluster exited with $($process.ExitCode): $(Get-Content -Raw $log -ErrorAction Ignore) $(Get-Content -Raw "$log.err" -ErrorAction Ignore)" }
        $ready = Select-String -Path $log -Pattern 'ready' -ErrorAction Ignore | Select-Object -First 1
        if ($ready) {
            $url = [regex]::Match($ready.Line, 'https://[^\s]+').Value
            return [pscustomobject]@{ Directory = $Directory; Url = $url; Process = $process }
        }
        Start-Sleep -Milliseconds 100
    }
    $process | Stop-Process -Force
    throw "The test cluster did not print 'ready' within $TimeoutSeconds s: $(Get-Content -Raw $log -ErrorAction Ignore)"
}

function Stop-TestCluster {
    param([Parameter(Mandatory)] $Cluster)
    if (-not $Cluster.Process.HasExited) { $Cluster.Process | Stop-Process -Force; $Cluster.Process.WaitForExit() }
}

function Start-TestContainerd {
    # Starts a private containerd (with the busybox and pause images) through the test cluster
    # program; returns an object with Directory, Endpoint, PodLogDirectory and Process.
    param([Parameter(Mandatory)][string] $Directory, [int] $TimeoutSeconds = 90)
    $null = New-Item -ItemType Directory -Force $Directory
    $log = Join-Path $Directory 'testcluster.log'
    $process = Start-Process dotnet -ArgumentList @((Get-TestClusterDll), 'containerd', '--dir', $Directory) -RedirectStandardOutput $log -RedirectStandardError "$log.err" -PassThru
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    while ([DateTime]::UtcNow -lt $deadline) {
        if ($process.HasExited) { throw "The private containerd exited with $($process.ExitCode): $(Get-Content -Raw $log -ErrorAction Ignore) $(Get-Content -Raw "$log.err" -ErrorAction Ignore)" }
        $ready = Select-String -Path $log -Pattern 'ready' -ErrorAction Ignore | Select-Object -First 1
        if ($ready) {
            $endpoint = [regex]::Match($ready.Line, 'endpoint=(\S+)').Groups[1].Value
            return [pscustomobject]@{ Directory = $Directory; Endpoint = $endpoint; PodLogDirectory = (Join-Path $Directory 'pods'); Process = $process }
        }
        Start-Sleep -Milliseconds 100
    }
    $process | Stop-Process -Force
    throw "The private containerd did not print 'ready' within $TimeoutSeconds s: $(Get-Content -Raw $log -ErrorAction Ignore)"
}

function Stop-TestContainerd {
    # SIGTERM lets the program remove its pods, mounts and bridge.
    param([Parameter(Mandatory)] $Containerd)
    if (-not $Containerd.Process.HasExited) {
        & kill -TERM $Containerd.Process.Id
        if (-not $Containerd.Process.WaitForExit(30000)) { $Containerd.Process | Stop-Process -Force }
    }
}

Export-ModuleMember -Function *
