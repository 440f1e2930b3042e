<#
.SYNOPSIS
    Measures Import-Module KubeletPS in new pwsh processes (a benchmark, not a test).
.DESCRIPTION
    Starts -Runs fresh pwsh processes; each measures its own Import-Module of the built module
    and its first cmdlet call (Get-KubeletConfig on the kubeadm test data, which loads the engine,
    YamlDotNet and KubernetesClient). Prints the median and the slowest of each.
#>
param([string] $ModulePath = (Join-Path $PSScriptRoot '../../out/KubeletPS/KubeletPS.psd1'), [int] $Runs = 10)

$ModulePath = (Resolve-Path $ModulePath).Path
$data = Join-Path $PSScriptRoot '../Pester/data/kubeadm'
$pwsh = Get-ChildItem (Join-Path ($env:NUGET_PACKAGES ?? (Join-Path $HOME '.nuget/packages')) 'powershell') -Recurse -Filter pwsh.dll | Where-Object FullName -like '*/unix/*' | Select-Object -First 1
$script = @"
`$i = Measure-Command { Import-Module '$ModulePath' }
`$c = Measure-Command { Get-KubeletConfig -Path '$data/config.yaml' -KubeconfigPath '$data/kubelet.conf' | Out-Null }
"`$(`$i.TotalMilliseconds) `$(`$c.TotalMilliseconds)"
"@
$import = @(); $first = @()
foreach ($run in 1..$Runs) {
    $out = & dotnet $pwsh.FullName -NoProfile -NonInteractive -Command $script
    $parts = ($out | Select-Object -Last 1) -split ' '
    $import += [double]$parts[0]; $first += [double]$parts[1]
}
function Median($values) { $s = $values | Sort-Object; $s[[int][math]::Floor(($s.Count - 1) / 2)] }
'Import-Module KubeletPS: median {0:0} ms, slowest {1:0} ms over {2} new pwsh processes' -f (Median $import), ($import | Measure-Object -Maximum).Maximum, $Runs
'First Get-KubeletConfig after import (loads the engine): median {0:0} ms, slowest {1:0} ms' -f (Median $first), ($first | Measure-Object -Maximum).Maximum
