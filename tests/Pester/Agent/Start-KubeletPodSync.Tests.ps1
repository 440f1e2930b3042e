#requires -Version 7.4
# Start-KubeletPodSync drives the built module against a private containerd.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../TestSupport.psm1') -Force
    Import-Module (Get-TestModulePath) -Force
    $script:Base = Join-Path '/tmp' ("kpps-" + [guid]::NewGuid().ToString('N').Substring(0, 6))
    $script:Ctd = Start-TestContainerd -Directory (Join-Path $Base 'ctd')
    $script:Examples = Join-Path (Split-Path (Get-TestModulePath)) 'examples/static-pods'
    function Get-PodStatus([string] $Root) {
        Get-ChildItem (Join-Path $Root 'pods') -Filter kubeletps-pod.json -Recurse -ErrorAction Ignore |
            ForEach-Object { Get-Content -Raw $_.FullName | ConvertFrom-Json }
    }
}

AfterAll {
    if ($script:Ctd) { Stop-TestContainerd $script:Ctd }
    Remove-Item -Recurse -Force $script:Base -ErrorAction Ignore
}

Describe 'Start-KubeletPodSync' {
    It 'is exported with its alias Start-PodSync' {
        (Get-Command Start-KubeletPodSync).CommandType | Should -Be 'Cmdlet'
        (Get-Alias Start-PodSync).Definition | Should -Be 'Start-KubeletPodSync'
    }

    It 'does nothing with -WhatIf' {
        $root = Join-Path $Base 'whatif'
        Start-KubeletPodSync -Once -StaticPodPath $Examples -RuntimeEndpoint $Ctd.Endpoint -RootDirectory $root -PodLogDirectory $Ctd.PodLogDirectory -NodeName whatif -WhatIf
        Test-Path (Join-Path $root 'pods') | Should -BeFalse
    }

    It 'starts the example pods with -Once and reports them' {
        $root = Join-Path $Base 'once'
        $verbose = Start-KubeletPodSync -Once -StaticPodPath $Examples -RuntimeEndpoint $Ctd.Endpoint -RootDirectory $root `
            -PodLogDirectory $Ctd.PodLogDirectory -NodeName pester -TimeoutSeconds 120 -Verbose -ErrorAction Stop 4>&1
        $pods = @(Get-PodStatus $root)
        $pods.Count | Should -Be 3
        ($pods | Where-Object { $_.metadata.name -eq 'web-pester' }).status.phase | Should -Be 'Running'
        ($pods | Where-Object { $_.metadata.name -eq 'init-shared-pester' }).status.phase | Should -Be 'Running'
        ($pods | Where-Object { $_.metadata.name -eq 'report-job-pester' }).status.phase | Should -BeIn 'Running', 'Succeeded'
        ($pods | Where-Object { $_.metadata.name -eq 'web-pester' }).status.podIP | Should -Not -BeNullOrEmpty
        ($verbose | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message) -join "`n" | Should -Match 'started container httpd'
    }

    It 'warns about a bad manifest with its file name and runs the others' {
        $root = Join-Path $Base 'bad'
        $manifests = Join-Path $Base 'bad-manifests'
        $null = New-Item -ItemType Directory -Force $manifests
        Copy-Item (Join-Path $Examples 'report-job.yaml') $manifests
        Set-Content (Join-Path $manifests 'broken.yaml') "apiVersion: v1`nkind: Pod`nmetadata:`n  name: [broken`n"
        Start-KubeletPodSync -Once -StaticPodPath $manifests -RuntimeEndpoint $Ctd.Endpoint -RootDirectory $root `
            -PodLogDirectory $Ctd.PodLogDirectory -NodeName bad -StopPodsOnExit -WarningVariable warnings -WarningAction SilentlyContinue -ErrorAction Stop
        ($warnings -join "`n") | Should -Match 'broken\.yaml'
        @(Get-PodStatus $root).Count | Should -Be 0 -Because "-StopPodsOnExit removes the pods and their status files (warnings: $($warnings -join '; '))"
    }

    It 'warns once when it starts about each config field it does not act on, with file and line' {
        $config = Join-Path $Base 'not-in-effect.yaml'
        $manifests = Join-Path $Base 'no-manifests'
        $null = New-Item -ItemType Directory -Force $manifests
        Set-Content $config "apiVersion: kubelet.config.k8s.io/v1beta1`nkind: KubeletConfiguration`nstaticPodPath: $manifests`niptablesMasqueradeBit: 13`n"
        $run = @{ ConfigPath = $config; RuntimeEndpoint = $Ctd.Endpoint; RootDirectory = (Join-Path $Base 'warn'); PodLogDirectory = $Ctd.PodLogDirectory; NodeName = 'warn' }
        Start-KubeletPodSync -Once @run -WhatIf -WarningVariable whatIfWarnings -WarningAction SilentlyContinue
        $whatIfWarnings | Should -BeNullOrEmpty
        Start-KubeletPodSync -Once @run -TimeoutSeconds 60 -WarningVariable warnings -WarningAction SilentlyContinue -ErrorAction Stop
        @($warnings).Count | Should -Be 1 -Because ($warnings -join '; ')
        "$($warnings[0])" | Should -Be "$($config):4:1: iptablesMasqueradeBit is set but not in effect: the agent manages no iptables rules"
    }

    It 'refuses each invalid manifest with its file, field and line, starts the good one and finishes' {
        $root = Join-Path $Base 'invalid'
        $manifests = Join-Path $Base 'invalid-manifests'
        $null = New-Item -ItemType Directory -Force $manifests
        function New-Manifest([string] $Name, [string] $Metadata = '', [string] $Ports = '') {
            "apiVersion: v1`nkind: Pod`nmetadata:`n  name: $Name`n$Metadata`nspec:`n  terminationGracePeriodSeconds: 1`n  containers:`n" +
            "  - name: main`n    image: kubeletps.local/busybox:latest`n    imagePullPolicy: IfNotPresent`n    command: [sleep, '3600']`n$Ports`n"
        }
        Set-Content (Join-Path $manifests 'good.yaml') (New-Manifest 'good')
        Set-Content (Join-Path $manifests '.swap.yaml') 'not: [a pod'
        $bad = [ordered]@{
            'bad-name.yaml'       = @((New-Manifest 'Bad_Name!'), 4, 'metadata\.name: Invalid value: "Bad_Name!-invalid": a lowercase RFC 1123 subdomain')
            'long-name.yaml'      = @((New-Manifest ('a' * 300)), 4, 'metadata\.name: Invalid value: "a+-invalid": must be no more than 253 characters')
            'big-annotation.yaml' = @((New-Manifest 'big' "  annotations:`n    big: $('x' * 300KB)"), 6, 'metadata\.annotations: Too long: must have at most 262144 bytes')
            'port-70000.yaml'     = @((New-Manifest 'port' -Ports "    ports:`n    - containerPort: 70000"), 14, 'spec\.containers\[0\]\.ports\[0\]\.containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive')
            'same-hostport.yaml'  = @((New-Manifest 'hostports' -Ports "    ports:`n    - containerPort: 80`n      hostPort: 8080`n    - containerPort: 81`n      hostPort: 8080"), 17,
                'spec\.containers\[0\]\.ports\[1\]\.hostPort: Duplicate value: "/TCP/8080"')
        }
        foreach ($file in $bad.Keys) { Set-Content (Join-Path $manifests $file) $bad[$file][0] }
        # Written long enough ago that the folder is read as it is, not held back as being written.
        Get-ChildItem -Force $manifests | ForEach-Object { $_.LastWriteTimeUtc = [datetime]::UtcNow.AddMinutes(-1) }

        $verbose = Start-KubeletPodSync -Once -StaticPodPath $manifests -RuntimeEndpoint $Ctd.Endpoint -RootDirectory $root `
            -PodLogDirectory $Ctd.PodLogDirectory -NodeName invalid -TimeoutSeconds 120 -StopPodsOnExit -Verbose `
            -WarningVariable warnings -WarningAction SilentlyContinue -ErrorAction Stop 4>&1
        ($verbose | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message) -join "`n" |
            Should -Match 'pod good-invalid: started container main'
        foreach ($file in $bad.Keys) {
            $path = [regex]::Escape((Join-Path $manifests $file))
            $line = $bad[$file][1]
            @($warnings | Where-Object { "$_" -match "^${path}:${line}:\d+: invalid pod: $($bad[$file][2])" }).Count |
                Should -Be 1 -Because "$file is reported once at line $line (warnings: $($warnings -join '; '))"
        }
        @($warnings | Where-Object { "$_" -match 'swap' }).Count | Should -Be 0 -Because 'dot-files are ignored'
    }
}
