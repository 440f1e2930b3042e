BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot '../TestSupport.psm1') -Force
    Import-Module (Get-TestModulePath) -Force
    # Pods are seeded by the agent's one-shot sync (branch 'pods'); until it is merged those tests are skipped.
    $script:hasPodSync = [bool](Get-Command Start-KubeletPodSync -Module KubeletPS -ErrorAction Ignore)
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../TestSupport.psm1') -Force
    Import-Module (Get-TestModulePath) -Force
}

Describe 'Get-KubeletContainerLog' {
    It 'stops with ConnectionError naming the endpoint when the socket is missing' {
        $endpoint = "unix:///tmp/kps-missing-$([guid]::NewGuid().ToString('N')).sock"
        $record = Get-ErrorRecord { Get-KubeletContainerLog web -RuntimeEndpoint $endpoint }
        $record.FullyQualifiedErrorId | Should -Be 'GetKubeletContainerLogRuntimeUnavailable,KubeletPS.Commands.GetKubeletContainerLogCommand'
        $record.CategoryInfo.Category | Should -Be 'ConnectionError'
        $record.Exception.Message | Should -BeLike "*$endpoint*"
    }

    It 'refuses -Since together with -SinceTime, as the kubelet refuses sinceSeconds with sinceTime' {
        $err = Get-ErrorRecord { Get-KubeletContainerLog p c -Since '00:01:00' -SinceTime ([DateTime]::UtcNow) -RuntimeEndpoint 'unix:///nonexistent.sock' }
        $err.FullyQualifiedErrorId | Should -BeLike 'GetKubeletContainerLogInvalidArgument,*'
        $err.CategoryInfo.Category | Should -Be 'InvalidArgument'
        $err.Exception.Message | Should -Match 'at most one of sinceSeconds or sinceTime'
    }

    It 'refuses a -Since shorter than a second, naming it' {
        $err = Get-ErrorRecord { Get-KubeletContainerLog p c -Since '00:00:00.5' -RuntimeEndpoint 'unix:///nonexistent.sock' }
        $err.FullyQualifiedErrorId | Should -BeLike 'GetKubeletContainerLogInvalidArgument,*'
        $err.Exception.Message | Should -Match 'sinceSeconds must be at least 1 second'
    }

    It 'refuses -LimitBytes 0' {
        { Get-KubeletContainerLog p c -LimitBytes 0 -RuntimeEndpoint 'unix:///nonexistent.sock' } | Should -Throw -ErrorId 'ParameterArgumentValidationError,*'
    }

    It 'has a parameter set for names and one for piped containers' {
        $command = Get-Command Get-KubeletContainerLog
        $command.ParameterSets.Name | Sort-Object | Should -Be @('Container', 'Name')
        $command.Parameters['PodName'].Aliases | Should -Contain 'Name'
        $command.OutputType.Name | Should -Contain 'System.String'
        $command.OutputType.Name | Should -Contain 'KubeletPS.Output.KubeletLogEntry'
    }

    Context 'an empty node' {
        BeforeAll {
            $containerd = Start-TestContainerd
        }
        AfterAll {
            Stop-TestContainerd -Containerd $containerd
        }

        It 'writes a non-terminating ObjectNotFound error for a pod that is not there' {
            $lines = @(Get-KubeletContainerLog no-such-pod -RuntimeEndpoint $containerd.Endpoint -ErrorAction SilentlyContinue -ErrorVariable problems)
            $lines.Count | Should -Be 0
            $problems.Count | Should -Be 1
            $problems[0].FullyQualifiedErrorId | Should -Be 'GetKubeletContainerLogPodNotFound,KubeletPS.Commands.GetKubeletContainerLogCommand'
            $problems[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        }

        It 'binds Name and Namespace of piped objects by property name' {
            [pscustomobject]@{ Name = 'web'; Namespace = 'shop' }, [pscustomobject]@{ Name = 'db'; Namespace = 'data' } |
                Get-KubeletContainerLog -RuntimeEndpoint $containerd.Endpoint -ErrorAction SilentlyContinue -ErrorVariable problems
            $problems.Count | Should -Be 2
            $problems[0].Exception.Message | Should -Match 'pod "web" not found in namespace "shop"'
            $problems[1].Exception.Message | Should -Match 'pod "db" not found in namespace "data"'
        }
    }

    Context 'pods the agent runs' -Skip:(-not $hasPodSync) {
        BeforeAll {
            # Static pods are named after the node: NAME-pester.
            $containerd = Start-TestStaticPod -FileName 'talk.yaml' -Manifest @'
apiVersion: v1
kind: Pod
metadata:
  name: talk
  namespace: default
spec:
  containers:
  - name: app
    image: kubeletps.local/busybox:latest
    imagePullPolicy: IfNotPresent
    command: ['sh', '-c', 'echo one; echo two; echo three; i=0; while true; do i=$((i+1)); echo tick $i; sleep 1; done']
  - name: quiet
    image: kubeletps.local/busybox:latest
    imagePullPolicy: IfNotPresent
    command: ['sh', '-c', 'echo shh >&2; sleep 3600']
  - name: unended
    image: kubeletps.local/busybox:latest
    imagePullPolicy: IfNotPresent
    # Output ending without a newline; closing stdout makes containerd write it (as a P line).
    command: ['sh', '-c', 'printf ''a\nb-without-newline''; exec >&-; sleep 3600']
'@
            $root = $containerd.Root
            $endpoint = $containerd.Endpoint
            $deadline = [DateTime]::UtcNow.AddSeconds(60)
            do {
                $lines = @(Get-KubeletContainerLog talk-pester app -RuntimeEndpoint $endpoint -ErrorAction Ignore)
                if ($lines -contains 'three') { break }
                Start-Sleep -Milliseconds 250
            } while ([DateTime]::UtcNow -lt $deadline)
        }
        AfterAll {
            Stop-TestContainerd -Containerd $containerd
        }

        It 'reads a container''s lines' {
            $lines = Get-KubeletContainerLog talk-pester app -RuntimeEndpoint $endpoint
            $lines[0..2] | Should -Be @('one', 'two', 'three')
        }

        It 'keeps only the last lines with -Tail' {
            @(Get-KubeletContainerLog talk-pester app -Tail 1 -RuntimeEndpoint $endpoint).Count | Should -Be 1
        }

        It 'prefixes RFC 3339 timestamps with -Timestamps' {
            (Get-KubeletContainerLog talk-pester app -Timestamps -RuntimeEndpoint $endpoint)[0] | Should -Match '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z one$'
        }

        It 'writes objects with -AsObject' {
            $entry = Get-KubeletContainerLog talk-pester quiet -AsObject -RuntimeEndpoint $endpoint | Select-Object -First 1
            $entry.GetType().FullName | Should -Be 'KubeletPS.Output.KubeletLogEntry'
            ($entry.Stream, $entry.Message, $entry.PodName, $entry.ContainerName) | Should -Be @('stderr', 'shh', 'talk-pester', 'quiet')
        }

        It 'asks for a container name when the pod has several, listing them' {
            $null = Get-KubeletContainerLog talk-pester -RuntimeEndpoint $endpoint -ErrorAction SilentlyContinue -ErrorVariable problems
            $problems[0].FullyQualifiedErrorId | Should -BeLike 'GetKubeletContainerLogContainerNameRequired,*'
            $problems[0].Exception.Message | Should -Match '\[app quiet unended\]'
        }

        It 'reads piped containers' {
            $lines = Get-KubeletPod talk-pester -RuntimeEndpoint $endpoint -RootDirectory $root | Select-Object -ExpandProperty Containers | Get-KubeletContainerLog -RuntimeEndpoint $endpoint
            $lines | Should -Contain 'one'
            $lines | Should -Contain 'shh'
        }

        It 'stops after -LimitBytes bytes, cutting the last line, as the kubelet server does' {
            # "one\nt": five bytes, the newline counted.
            Get-KubeletContainerLog talk-pester app -LimitBytes 5 -RuntimeEndpoint $endpoint | Should -Be @('one', 't')
            # With -Timestamps the prefix counts too.
            $cut = @(Get-KubeletContainerLog talk-pester app -LimitBytes 12 -Timestamps -RuntimeEndpoint $endpoint)
            $cut.Count | Should -Be 1
            $cut[0] | Should -Match '^\d{4}-\d\d-\d\dT\d$'
        }

        It 'keeps lines written at or after -SinceTime' {
            $deadline = [DateTime]::UtcNow.AddSeconds(30)
            while (-not ((Get-KubeletContainerLog talk-pester app -RuntimeEndpoint $endpoint) -contains 'tick 3') -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 250 }
            $tick2 = Get-KubeletContainerLog talk-pester app -AsObject -RuntimeEndpoint $endpoint | Where-Object Message -eq 'tick 2'
            $lines = @(Get-KubeletContainerLog talk-pester app -SinceTime $tick2.Timestamp.UtcDateTime -RuntimeEndpoint $endpoint)
            $lines[0] | Should -Be 'tick 2'
            $lines | Should -Not -Contain 'one'
        }

        It 'keeps lines newer than -Since ago' {
            $lines = @(Get-KubeletContainerLog talk-pester app -Since ([TimeSpan]::FromHours(1)) -RuntimeEndpoint $endpoint)
            $lines[0] | Should -Be 'one'
            $deadline = [DateTime]::UtcNow.AddSeconds(30)
            while (-not ((Get-KubeletContainerLog talk-pester app -RuntimeEndpoint $endpoint) -contains 'tick 6') -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 250 }
            # 'one' was written more than 5 seconds ago (before tick 6); the last 2 seconds hold ticks only.
            $recent = @(Get-KubeletContainerLog talk-pester app -Since '00:00:02' -RuntimeEndpoint $endpoint)
            $recent | Should -Not -Contain 'one'
            $recent | Should -Match '^tick \d+$'
        }

        It 'follows new lines until stopped' {
            $job = Start-ThreadJob { param($module, $endpoint) Import-Module $module; Get-KubeletContainerLog talk-pester app -Follow -Tail 0 -RuntimeEndpoint $endpoint } -ArgumentList (Get-TestModulePath), $endpoint
            try {
                Start-Sleep -Seconds 3
                $received = @(Receive-Job $job)
                $received | Should -Match '^tick \d+$'
                $job.State | Should -Be 'Running'
            }
            finally { $job | Stop-Job; $job | Remove-Job -Force }
        }

        It 'keeps a last line without a newline, also when following' {
            $deadline = [DateTime]::UtcNow.AddSeconds(30)
            while (-not ((Get-KubeletContainerLog talk-pester unended -RuntimeEndpoint $endpoint -ErrorAction Ignore) -contains 'b-without-newline') -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 250 }
            Get-KubeletContainerLog talk-pester unended -RuntimeEndpoint $endpoint | Should -Be @('a', 'b-without-newline')
            $job = Start-ThreadJob { param($module, $endpoint) Import-Module $module; Get-KubeletContainerLog talk-pester unended -Follow -RuntimeEndpoint $endpoint } -ArgumentList (Get-TestModulePath), $endpoint
            try {
                $deadline = [DateTime]::UtcNow.AddSeconds(30)
                $received = @()
                while (-not ($received -contains 'b-without-newline') -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 250; $received += @(Receive-Job $job) }
                $received | Should -Be @('a', 'b-without-newline')
                $job.State | Should -Be 'Running'
            }
            finally { $job | Stop-Job; $job | Remove-Job -Force }
        }

        It 'reads the rotated files too, oldest first, as kubelet''s log rotation leaves them' {
            # Beside the current 0.log: an older rotated file gzipped and the latest rotated one plain.
            $log = Get-ChildItem -Path $containerd.PodLogDirectory -Recurse -Filter 0.log | Where-Object FullName -Like '*_talk-pester_*/app/0.log' | Select-Object -First 1
            $log | Should -Not -BeNullOrEmpty
            $gz = "$($log.FullName).20261201-101010.gz"
            $plain = "$($log.FullName).20261201-101111"
            $file = [IO.File]::Create($gz)
            try {
                $gzip = [IO.Compression.GZipStream]::new($file, [IO.Compression.CompressionLevel]::Fastest)
                $bytes = [Text.Encoding]::UTF8.GetBytes("2026-12-01T10:10:00Z stdout F rotated 1`n2026-12-01T10:10:01Z stdout F rotated 2`n")
                $gzip.Write($bytes, 0, $bytes.Length)
                $gzip.Dispose()
            }
            finally { $file.Dispose() }
            Set-Content -LiteralPath $plain -Value '2026-12-01T10:11:00Z stdout F rotated 3' -NoNewline:$false
            try {
                $lines = @(Get-KubeletContainerLog talk-pester app -RuntimeEndpoint $endpoint)
                $lines[0..3] | Should -Be @('rotated 1', 'rotated 2', 'rotated 3', 'one')
                # "rotated 1\nrot": thirteen bytes from the oldest file.
                Get-KubeletContainerLog talk-pester app -LimitBytes 13 -RuntimeEndpoint $endpoint | Should -Be @('rotated 1', 'rot')
            }
            finally { Remove-Item -LiteralPath $gz, $plain -ErrorAction Ignore }
        }
    }
}
