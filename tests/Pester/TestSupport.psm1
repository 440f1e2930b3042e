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

function New-TestPki {
    # Writes the kubeadm-shaped certificate fixtures (KubeletPS.TestCluster pki) into -Directory;
    # returns the manifest: Directory, NodeName and Files (fixture name -> path, e.g. 'ca.crt').
    param([Parameter(Mandatory)][string] $Directory, [string] $NodeName = 'node-1')
    $json = Invoke-TestClusterCommand -ArgumentList 'pki', '--dir', $Directory, '--node', $NodeName
    $manifest = ($json -join "`n") | ConvertFrom-Json -AsHashtable
    [pscustomobject]@{ Directory = $manifest.directory; NodeName = $manifest.nodeName; Files = $manifest.files }
}

function Start-TestCluster {
    # Starts the test API server as its own process; returns an object with Dir, Url, Process.
    param([Parameter(Mandatory)][string] $Directory, [string[]] $Node = @(), [int] $TimeoutSeconds = 60,
        [string] $BootstrapKubeconfig, [string] $ClientCertTtl, [string[]] $ExpiredNode = @(), [string] $KubeletConfig, [switch] $PrintJoinCommand)
    $arguments = @((Get-TestClusterDll), '--dir', $Directory)
    foreach ($n in $Node) { $arguments += '--node', $n }
    # DIR/node-NAME-expired.conf: the node's credentials with a certificate that expired 35 days ago.
    foreach ($n in $ExpiredNode) { $arguments += '--expired-node', $n }
    if ($BootstrapKubeconfig) { $arguments += '--bootstrap-kubeconfig', $BootstrapKubeconfig }
    if ($ClientCertTtl) { $arguments += '--client-cert-ttl', $ClientCertTtl }
    if ($KubeletConfig) { $arguments += '--kubelet-config', $KubeletConfig }
    if ($PrintJoinCommand) { $arguments += '--print-join-command' }
    $null = New-Item -ItemType Directory -Force $Directory
    $log = Join-Path $Directory 'server.log'
    $process = Start-Process dotnet -ArgumentList $arguments -RedirectStandardOutput $log -RedirectStandardError "$log.err" -PassThru
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    while ([DateTime]::UtcNow -lt $deadline) {
        if ($process.HasExited) { throw "The test cluster exited with $($process.ExitCode): $(Get-Content -Raw $log -ErrorAction Ignore) $(Get-Content -Raw "$log.err" -ErrorAction Ignore)" }
        $ready = Select-String -Path $log -Pattern 'ready' -ErrorAction Ignore | Select-Object -First 1
        if ($ready) {
            $url = [regex]::Match($ready.Line, 'https://[^\s]+').Value
            $join = Select-String -Path $log -Pattern '^Join-KubeletCluster ' -ErrorAction Ignore | Select-Object -First 1
            return [pscustomobject]@{ Directory = $Directory; Url = $url; Process = $process; JoinCommand = $(if ($join) { $join.Line }) }
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

function New-UntrustedKubeconfig {
    # A copy of a kubeconfig whose CA is another, unrelated CA (CN=other-ca): the server will not verify.
    param([Parameter(Mandatory)][string] $Kubeconfig, [Parameter(Mandatory)][string] $Directory)
    $key = Join-Path $Directory 'other-ca.key'
    $crt = Join-Path $Directory 'other-ca.crt'
    & openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj '/CN=other-ca' -keyout $key -out $crt -days 1 2>$null
    if ($LASTEXITCODE -ne 0) { throw 'openssl could not make the other CA' }
    $data = [Convert]::ToBase64String([IO.File]::ReadAllBytes($crt))
    $path = Join-Path $Directory 'untrusted.conf'
    (Get-Content -Raw $Kubeconfig) -replace 'certificate-authority-data: \S+', "certificate-authority-data: $data" | Set-Content $path
    $path
}

function New-UnreachableKubeconfig {
    # A copy of a kubeconfig pointing at a closed port on loopback.
    param([Parameter(Mandatory)][string] $Kubeconfig, [Parameter(Mandatory)][string] $Directory)
    $path = Join-Path $Directory 'unreachable.conf'
    (Get-Content -Raw $Kubeconfig) -replace 'server: https://\S+', 'server: https://127.0.0.1:1' | Set-Content $path
    $path
}

function Start-TestContainerd {
    # Starts a private containerd (tests/KubeletPS.TestCluster 'containerd' subcommand) as its own
    # process; returns an object with Endpoint, Directory and Process. Keep the directory short:
    # unix socket paths are limited to 108 bytes.
    param([string] $Directory = (Join-Path '/tmp' ('kps-' + [guid]::NewGuid().ToString('N').Substring(0, 8))), [int] $TimeoutSeconds = 120)
    $null = New-Item -ItemType Directory -Force $Directory
    $log = Join-Path $Directory 'containerd-command.log'
    $process = Start-Process dotnet -ArgumentList (Get-TestClusterDll), 'containerd', '--dir', $Directory -RedirectStandardOutput $log -RedirectStandardError "$log.err" -PassThru
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    while ([DateTime]::UtcNow -lt $deadline) {
        if ($process.HasExited) { throw "The private containerd exited with $($process.ExitCode): $(Get-Content -Raw $log -ErrorAction Ignore) $(Get-Content -Raw "$log.err" -ErrorAction Ignore)" }
        $ready = Select-String -Path $log -Pattern 'ready' -ErrorAction Ignore | Select-Object -First 1
        if ($ready) {
            $endpoint = [regex]::Match($ready.Line, 'endpoint=(unix://\S+)').Groups[1].Value
            return [pscustomobject]@{ Endpoint = $endpoint; Directory = $Directory; PodLogDirectory = (Join-Path $Directory 'pods'); Process = $process }
        }
        Start-Sleep -Milliseconds 100
    }
    & kill -TERM $process.Id
    $null = $process.WaitForExit(30000)
    throw "The private containerd did not print 'ready' within $TimeoutSeconds s: $(Get-Content -Raw $log -ErrorAction Ignore)"
}

function Stop-TestContainerd {
    # SIGTERM lets the subcommand remove its pods, mounts and bridge; then waits for it.
    param([Parameter(Mandatory)] $Containerd, [int] $TimeoutSeconds = 60)
    if ($null -eq $Containerd) { return }
    $process = $Containerd.Process
    if (-not $process.HasExited) {
        & kill -TERM $process.Id
        if (-not $process.WaitForExit($TimeoutSeconds * 1000)) { $process.Kill(); $process.WaitForExit() }
    }
    Remove-Item -Recurse -Force $Containerd.Directory -ErrorAction Ignore
}

function Start-TestStaticPod {
    # Starts a private containerd and runs the given static pod manifest on it with
    # Start-KubeletPodSync -Once (node "pester", so the pod is NAME-pester); returns the
    # containerd object with Root and Manifests added. Stop it with Stop-TestContainerd.
    param([Parameter(Mandatory)][string] $Manifest, [Parameter(Mandatory)][string] $FileName)
    $containerd = Start-TestContainerd
    $root = Join-Path $containerd.Directory 'kubelet'
    $manifests = Join-Path $containerd.Directory 'manifests'
    $null = New-Item -ItemType Directory -Force $root, $manifests
    Set-Content (Join-Path $manifests $FileName) $Manifest
    Start-KubeletPodSync -Once -NodeName pester -RuntimeEndpoint $containerd.Endpoint -StaticPodPath $manifests -RootDirectory $root -PodLogDirectory $containerd.PodLogDirectory -Confirm:$false
    $containerd | Add-Member -NotePropertyName Root -NotePropertyValue $root -PassThru | Add-Member -NotePropertyName Manifests -NotePropertyValue $manifests -PassThru
}

function Start-TestSystemd {
    # Boots a real systemd in systemd-nspawn (tests/KubeletPS.TestCluster 'nspawn' subcommand: an overlay
    # of the cached Debian root, built once) with -BindReadOnly host paths at the same place inside, plus
    # the dotnet root, this pwsh and the built module, so the module runs inside. Returns Pid (systemd's,
    # for nsenter), Root, BootSeconds, BuildSeconds and Process; or, where nspawn cannot run here, an
    # object with SkipReason set. Stop it with Stop-TestSystemd.
    # -ImportImages: once the machine's containerd (enabled at boot) answers, the test images (busybox, and
    # the pause it runs as sandbox image) are imported into it.
    param([string] $Name = ('kps' + [guid]::NewGuid().ToString('N').Substring(0, 8)), [string[]] $BindReadOnly = @(), [int] $TimeoutSeconds = 900, [switch] $ImportImages)
    $dotnetRoot = Split-Path ([Environment]::ProcessPath)
    $binds = @($dotnetRoot, (Split-Path $PSHOME), (Split-Path (Get-TestModulePath))) + $BindReadOnly | Select-Object -Unique
    $arguments = @((Get-TestClusterDll), 'nspawn', '--name', $Name)
    foreach ($b in $binds) { $arguments += '--bind-ro', $b }
    if ($ImportImages) { $arguments += '--import-images' }
    $log = Join-Path ([IO.Path]::GetTempPath()) "$Name-nspawn.log"
    $process = Start-Process dotnet -ArgumentList $arguments -RedirectStandardOutput $log -RedirectStandardError "$log.err" -PassThru
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    while ([DateTime]::UtcNow -lt $deadline) {
        $text = Get-Content -Raw $log -ErrorAction Ignore
        if ($text -match 'nspawn cannot run: (.+)') { return [pscustomobject]@{ SkipReason = $Matches[1].Trim(); Process = $process } }
        if ($text -match 'nspawn ready pid=(\d+) nspawn=\d+ root=(\S+) boot=([\d.]+)s build=([\d.]+)s') {
            return [pscustomobject]@{ SkipReason = $null; Name = $Name; Pid = [int]$Matches[1]; Root = $Matches[2]
                BootSeconds = [double]$Matches[3]; BuildSeconds = [double]$Matches[4]; Process = $process; DotnetRoot = $dotnetRoot }
        }
        if ($process.HasExited) { throw "The nspawn machine exited with $($process.ExitCode): $text $(Get-Content -Raw "$log.err" -ErrorAction Ignore)" }
        Start-Sleep -Milliseconds 100
    }
    & kill -TERM $process.Id
    throw "The nspawn machine did not print 'ready' within $TimeoutSeconds s: $(Get-Content -Raw $log -ErrorAction Ignore)"
}

function Stop-TestSystemd {
    # SIGTERM: the subcommand powers the machine off, unmounts its overlay and removes it.
    param($Machine, [int] $TimeoutSeconds = 60)
    if ($null -eq $Machine -or $Machine.Process.HasExited) { return }
    & kill -TERM $Machine.Process.Id
    if (-not $Machine.Process.WaitForExit($TimeoutSeconds * 1000)) { $Machine.Process.Kill(); $Machine.Process.WaitForExit() }
}

function Start-TestSystemdNode {
    # A joined node inside a real systemd: a machine (Start-TestSystemd -ImportImages, its containerd
    # enabled and active with the test images, Pester bound in so Test-KubeletNode runs there), the test
    # API server on the host, and Join-KubeletCluster -Install run inside, so the agent's unit is active
    # on kubeadm's files and the node registered. Returns Machine, Cluster, Admin (the admin kubeconfig),
    # NodeName (the machine's name: its hostname, which the join takes as kubeadm does), Token, Pester
    # (the Pester manifest to import inside) and Base; or an object with SkipReason set where nspawn
    # cannot run. Stop it with Stop-TestSystemdNode.
    # -BindReadOnly: more host paths bound at the same place inside (a private containerd's directory).
    param([string] $NodeName = ('kpsn' + [guid]::NewGuid().ToString('N').Substring(0, 6)), [string[]] $BindReadOnly = @(), [int] $TimeoutSeconds = 300)
    $base = Join-Path '/tmp' ('kpsn-' + [guid]::NewGuid().ToString('N').Substring(0, 6))
    $null = New-Item -ItemType Directory -Path $base
    $pester = Get-Module Pester | Sort-Object Version -Descending | Select-Object -First 1
    if (-not $pester) { $pester = Get-Module -ListAvailable Pester | Where-Object { $_.Version.Major -eq 5 } | Sort-Object Version -Descending | Select-Object -First 1 }
    $node = [pscustomobject]@{ SkipReason = $null; Machine = $null; Cluster = $null; Admin = $null; NodeName = $NodeName; Token = $null; Pester = (Join-Path $pester.ModuleBase 'Pester.psd1'); Base = $base }
    try {
        $node.Machine = Start-TestSystemd -Name $NodeName -BindReadOnly (@($base, $pester.ModuleBase) + $BindReadOnly) -ImportImages
        if ($node.Machine.SkipReason) { $node.SkipReason = $node.Machine.SkipReason; return $node }
        $node.Cluster = Start-TestCluster -Directory (Join-Path $base 'cluster') -KubeletConfig kubeadm -PrintJoinCommand
        $node.Admin = Join-Path $node.Cluster.Directory 'admin.conf'
        # "Join-KubeletCluster -Server 127.0.0.1:PORT -Token ID.SECRET -CACertHash sha256:HEX"
        $parts = $node.Cluster.JoinCommand -split ' '
        $node.Token = $parts[4]
        $joined = Invoke-PwshInTestSystemd $node.Machine "Join-KubeletCluster -Server $($parts[2]) -Token $($parts[4]) -CACertHash $($parts[6]) -Install -Confirm:`$false" -TimeoutSeconds $TimeoutSeconds
        if ($joined.PSObject.Properties['ErrorId']) { throw "Join-KubeletCluster in $($node.Machine.Name) failed: $($joined.ErrorId): $($joined.Message)" }
        if ($joined.NodeName -ne $NodeName) { throw "Join-KubeletCluster in $NodeName joined as $($joined.NodeName), not as the machine's hostname" }
        $admin = $node.Admin
        Wait-Until { (& kubectl --kubeconfig $admin get node $NodeName -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>$null) -eq 'True' } "node $NodeName is registered and Ready" -Seconds 120
        $node
    }
    catch { Stop-TestSystemdNode $node; throw }
}

function Stop-TestSystemdNode {
    param($Node)
    if ($null -eq $Node) { return }
    Stop-TestSystemd $Node.Machine
    if ($Node.Cluster) { Stop-TestCluster $Node.Cluster }
    Remove-Item -Recurse -Force $Node.Base -ErrorAction Ignore
}

function Invoke-InTestSystemd {
    # Runs a native command inside the machine (nsenter into systemd's namespaces, with a clean
    # environment); returns its output lines; $LASTEXITCODE is its exit code.
    param([Parameter(Mandatory, Position = 0)] $Machine, [Parameter(Mandatory, Position = 1, ValueFromRemainingArguments)][string[]] $Command)
    & /usr/bin/setpriv --pdeathsig TERM /usr/bin/nsenter -t $Machine.Pid -a -- /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "DOTNET_ROOT=$($Machine.DotnetRoot)" POWERSHELL_TELEMETRY_OPTOUT=1 @Command 2>&1
}

function Invoke-PwshInTestSystemd {
    # Runs a script in a pwsh inside the machine with the built module imported (the dotnet host runs
    # pwsh, as `dotnet pwsh` does here). Its output comes back as objects (JSON); a failure comes back
    # as an object with ErrorId, Category, Target and Message.
    param([Parameter(Mandatory)] $Machine, [Parameter(Mandatory)][string] $Script, [int] $TimeoutSeconds = 120)
    $wrapped = "`$ErrorActionPreference = 'Stop'; Import-Module '$(Get-TestModulePath)'; try { `$out = @(& { $Script }); ConvertTo-Json -InputObject `$out -Depth 4 -Compress -EnumsAsStrings } " +
        "catch { [pscustomobject]@{ ErrorId = `$_.FullyQualifiedErrorId; Category = [string]`$_.CategoryInfo.Category; Target = [string]`$_.TargetObject; Message = [string]`$_ } | ConvertTo-Json -Compress; exit 1 }"
    $output = Invoke-InTestSystemd -Machine $Machine -Command @('/usr/bin/timeout', $TimeoutSeconds, [Environment]::ProcessPath, (Join-Path $PSHOME 'pwsh.dll'), '-NoLogo', '-NoProfile', '-NonInteractive', '-Command', $wrapped)
    $json = @($output | Where-Object { $_ -is [string] -and $_ -match '^\s*[\[{]' }) | Select-Object -Last 1
    if (-not $json) { throw "pwsh in $($Machine.Name) printed no JSON (exit $LASTEXITCODE): $($output -join "`n")" }
    ConvertFrom-Json $json
}

function Get-ErrorRecord {
    # Runs a script block that must fail and returns its ErrorRecord.
    param([scriptblock] $Script)
    try { & $Script; throw 'expected an error' } catch { $_ }
}

function Wait-Until {
    # Polls the condition every half second until it holds; throws naming what it waited for.
    param([scriptblock] $Condition, [string] $What, [int] $Seconds = 90)
    $deadline = [DateTime]::UtcNow.AddSeconds($Seconds)
    while ([DateTime]::UtcNow -lt $deadline) { if (& $Condition) { return } ; Start-Sleep -Milliseconds 500 }
    throw "Timed out after $Seconds s waiting until $What"
}

Export-ModuleMember -Function *
