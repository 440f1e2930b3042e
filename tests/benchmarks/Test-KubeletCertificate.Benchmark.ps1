#requires -Version 7.4
<#
.SYNOPSIS
    Times Test-KubeletCertificate against the openssl commands an operator would run instead.
.DESCRIPTION
    A benchmark, not a test. Makes a kubeadm-shaped PKI with openssl (RSA CA "kubernetes", an
    EC P-256 node client certificate + SEC1 key in one kubelet-client-current.pem), then, in one
    warm session, runs N times:
      - Test-KubeletCertificate -Path <pem> -CAPath <ca>   (all six checks, one call)
      - the equivalent openssl commands, one process each:
          openssl x509 -noout -checkend 0                     (ValidAt)
          openssl x509 -noout -checkend 2592000               (NotExpiringWithin 30 days)
          openssl verify -CAfile ca.crt                       (ChainsToCA)
          openssl x509 -noout -pubkey  vs  openssl pkey -pubout  (KeyMatchesCertificate, 2 processes)
          openssl x509 -noout -ext extendedKeyUsage -subject  (ClientAuth + NodeIdentity)
    and prints milliseconds per run and per check for both.
.NOTES
    Figures on the shared 2-core build machine (OpenSSL 3.0.19), 100 runs, other builds running:
                                          load ~7                 load ~14
      Import-Module (once)                52 ms                   64 ms
      first call after import (once)     311 ms                  460 ms   (JIT, engine load context)
      Test-KubeletCertificate, 6 checks   33 ms/run (5.5/check)   92 ms/run (15/check)
      openssl, 6 processes               290 ms/run (48/check)   594 ms/run (99/check)
      ratio                              8.9x                    6.4x
    openssl's time is mostly process start (openssl verify alone: 32 ms); the cmdlet's is
    BouncyCastle's RSA signature check against the CA and EC key parsing.
#>
param(
    [Parameter(Mandatory)][string] $ModulePath,
    [int] $Iterations = 50
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0

if (-not (Get-Command openssl -ErrorAction Ignore)) { throw 'openssl is not installed.' }
$ModulePath = (Resolve-Path $ModulePath).Path
$dir = Join-Path ([IO.Path]::GetTempPath()) "kubeletps-bench-$PID"
$null = New-Item -ItemType Directory -Force $dir
try {
    function Invoke-OpenSsl { $output = & openssl @args 2>&1; if ($LASTEXITCODE -ne 0) { throw "openssl $args failed: $output" }; $output }
    $ca = Join-Path $dir 'ca.crt'; $caKey = Join-Path $dir 'ca.key'
    $key = Join-Path $dir 'node.key'; $csr = Join-Path $dir 'node.csr'; $crt = Join-Path $dir 'node.crt'
    $ext = Join-Path $dir 'node.ext'; $pem = Join-Path $dir 'kubelet-client-current.pem'
    $null = Invoke-OpenSsl req -x509 -newkey rsa:2048 -nodes -keyout $caKey -out $ca -days 3650 -subj '/CN=kubernetes' `
        -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature'
    $null = Invoke-OpenSsl ecparam -name prime256v1 -genkey -noout -out $key
    $null = Invoke-OpenSsl req -new -key $key -out $csr -subj '/O=system:nodes/CN=system:node:bench-node'
    [IO.File]::WriteAllText($ext, "basicConstraints=critical,CA:FALSE`nkeyUsage=critical,digitalSignature`nextendedKeyUsage=clientAuth`n")
    $null = Invoke-OpenSsl x509 -req -in $csr -CA $ca -CAkey $caKey -CAcreateserial -out $crt -days 365 -extfile $ext
    # The kubelet's combined file: certificate then key, mode 0600.
    [IO.File]::WriteAllText($pem, [IO.File]::ReadAllText($crt) + [IO.File]::ReadAllText($key))
    if ($IsLinux) { [IO.File]::SetUnixFileMode($pem, [IO.UnixFileMode]'UserRead, UserWrite'); [IO.File]::SetUnixFileMode($key, [IO.UnixFileMode]'UserRead, UserWrite') }

    $importTimer = [Diagnostics.Stopwatch]::StartNew()
    Import-Module $ModulePath -Force
    $importTimer.Stop()
    $firstTimer = [Diagnostics.Stopwatch]::StartNew()
    $first = Test-KubeletCertificate -Path $pem -CAPath $ca -NodeName bench-node
    $firstTimer.Stop()
    if (-not $first) { throw "Test-KubeletCertificate failed the benchmark certificate: $(Test-KubeletCertificate -Path $pem -CAPath $ca -Detailed | Out-String)" }

    $module = [Diagnostics.Stopwatch]::StartNew()
    for ($i = 0; $i -lt $Iterations; $i++) {
        $null = Test-KubeletCertificate -Path $pem -CAPath $ca -NodeName bench-node
    }
    $module.Stop()

    $perCommand = [ordered]@{
        'x509 -checkend 0 (ValidAt)'                   = 0.0
        'x509 -checkend 2592000 (NotExpiringWithin)'   = 0.0
        'verify -CAfile (ChainsToCA)'                  = 0.0
        'x509 -pubkey + pkey -pubout (KeyMatches)'     = 0.0
        'x509 -ext extendedKeyUsage -subject (EKU+CN)' = 0.0
    }
    $openssl = [Diagnostics.Stopwatch]::new()
    $step = [Diagnostics.Stopwatch]::new()
    for ($i = 0; $i -lt $Iterations; $i++) {
        $openssl.Start()
        $step.Restart(); $null = & openssl x509 -in $pem -noout -checkend 0; $ok = $LASTEXITCODE -eq 0
        $perCommand['x509 -checkend 0 (ValidAt)'] += $step.Elapsed.TotalMilliseconds
        $step.Restart(); $null = & openssl x509 -in $pem -noout -checkend 2592000; $ok = $ok -and $LASTEXITCODE -eq 0
        $perCommand['x509 -checkend 2592000 (NotExpiringWithin)'] += $step.Elapsed.TotalMilliseconds
        $step.Restart(); $null = & openssl verify -CAfile $ca $pem; $ok = $ok -and $LASTEXITCODE -eq 0
        $perCommand['verify -CAfile (ChainsToCA)'] += $step.Elapsed.TotalMilliseconds
        $step.Restart()
        $certPub = (& openssl x509 -in $pem -noout -pubkey) -join "`n"
        $keyPub = (& openssl pkey -in $pem -pubout) -join "`n"
        $ok = $ok -and $certPub -eq $keyPub
        $perCommand['x509 -pubkey + pkey -pubout (KeyMatches)'] += $step.Elapsed.TotalMilliseconds
        $step.Restart(); $text = (& openssl x509 -in $pem -noout -ext extendedKeyUsage -subject) -join "`n"
        $ok = $ok -and $text -match 'TLS Web Client Authentication' -and $text -match 'CN ?= ?system:node:bench-node' -and $text -match 'O ?= ?system:nodes'
        $perCommand['x509 -ext extendedKeyUsage -subject (EKU+CN)'] += $step.Elapsed.TotalMilliseconds
        $openssl.Stop()
        if (-not $ok) { throw 'The openssl checks did not pass the benchmark certificate.' }
    }

    $moduleRun = $module.Elapsed.TotalMilliseconds / $Iterations
    $opensslRun = $openssl.Elapsed.TotalMilliseconds / $Iterations
    "Test-KubeletCertificate vs openssl, $Iterations runs each, one warm pwsh session ($([Environment]::ProcessorCount) cores, $((& openssl version) -join ''))"
    "  Import-Module                                     {0,8:N1} ms (once)" -f $importTimer.Elapsed.TotalMilliseconds
    "  First Test-KubeletCertificate after import        {0,8:N1} ms (once: JIT, engine load context)" -f $firstTimer.Elapsed.TotalMilliseconds
    "  Test-KubeletCertificate, 6 checks                 {0,8:N2} ms per run, {1,6:N2} ms per check" -f $moduleRun, ($moduleRun / 6)
    "  openssl, 6 processes for the same 6 checks        {0,8:N2} ms per run, {1,6:N2} ms per check" -f $opensslRun, ($opensslRun / 6)
    foreach ($entry in $perCommand.GetEnumerator()) {
        "    openssl {0,-44} {1,8:N2} ms per run" -f $entry.Key, ($entry.Value / $Iterations)
    }
    "  Ratio openssl / Test-KubeletCertificate           {0,8:N1}x" -f ($opensslRun / $moduleRun)
}
finally {
    Remove-Item -Recurse -Force $dir -ErrorAction Ignore
}
