BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../TestSupport.psm1') -Force
    Import-Module (Get-TestModulePath) -Force
    $data = Join-Path (Get-TestRepoRoot) 'tests/Pester/data'
    $kubeadmConfig = Join-Path $data 'kubeadm/config.yaml'
    $kubeadmKubeconfig = Join-Path $data 'kubeadm/kubelet.conf'
}

Describe 'Get-KubeletConfig' {
    Context 'a kubeadm node' {
        BeforeAll {
            $config = Get-KubeletConfig -Path $kubeadmConfig -KubeconfigPath $kubeadmKubeconfig
        }

        It 'returns one typed object' {
            @($config).Count | Should -Be 1
            $config.GetType().FullName | Should -Be 'KubeletPS.Output.KubeletConfigInfo'
            $config.Path | Should -Be $kubeadmConfig
            $config.KubeconfigPath | Should -Be $kubeadmKubeconfig
        }

        It 'applies kubelet defaults where kubeadm writes zero values' {
            $config.SyncFrequency | Should -Be ([timespan]'00:01:00')
            $config.FileCheckFrequency | Should -Be ([timespan]'00:00:20')
            $config.NodeStatusUpdateFrequency | Should -Be ([timespan]'00:00:10')
            $config.NodeStatusReportFrequency | Should -Be ([timespan]'00:05:00')
            $config.RuntimeRequestTimeout | Should -Be ([timespan]'00:02:00')
            $config.ContainerRuntimeEndpoint | Should -Be 'unix:///run/containerd/containerd.sock'
            $config.MaxPods | Should -Be 110
            $config.NodeLeaseDurationSeconds | Should -Be 40
            @($config.EvictionHard.Keys) | Should -Be @('memory.available', 'nodefs.available', 'nodefs.inodesFree', 'imagefs.available', 'imagefs.inodesFree')
        }

        It 'keeps the values kubeadm sets' {
            $config.ClusterDNS | Should -Be @('10.96.0.10')
            $config.ClusterDomain | Should -Be 'cluster.local'
            $config.CgroupDriver | Should -Be 'systemd'
            $config.StaticPodPath | Should -Be '/etc/kubernetes/manifests'
            $config.ClientCAFile | Should -Be '/etc/kubernetes/pki/ca.crt'
            $config.RotateCertificates | Should -BeTrue
        }

        It 'reports the API server and where the credentials come from, never the key' {
            $config.Server | Should -Be 'https://192.168.56.10:6443'
            $config.Context | Should -Be 'system:node:node-1@kubernetes'
            $config.CertificateAuthority | Should -Be 'embedded'
            $config.ClientCertificate | Should -Be '/var/lib/kubelet/pki/kubelet-client-current.pem'
            $config.ClientKey | Should -Be '/var/lib/kubelet/pki/kubelet-client-current.pem'
            $config | Out-String | Should -Not -Match 'BEGIN'
        }

        It 'reaches every field through Settings, nested ones included' {
            $config.Settings.Count | Should -BeGreaterThan 120
            $config.Settings.evictionHard.'memory.available' | Should -Be '100Mi'
            $config.Settings.authentication.webhook.cacheTTL | Should -Be '2m0s'
            $config.Settings.syncFrequency | Should -Be '1m0s'
            $config.Settings.Contains('podPidsLimit') | Should -BeTrue
            $config.Settings.logging.format | Should -Be 'text'
        }

        It 'renders a list view with the important fields' {
            $text = $config | Out-String -Width 200
            foreach ($label in 'Server', 'ClientKey', 'StaticPodPath', 'ClusterDNS', 'CgroupDriver', 'SyncFrequency', 'EvictionHard') {
                $text | Should -Match "(?m)^$label\s+:"
            }
            $text | Should -Match 'memory\.available<100Mi'
            $text | Should -Not -Match 'Settings'
        }

        It 'writes no warnings for a clean file' {
            $null = Get-KubeletConfig -Path $kubeadmConfig -KubeconfigPath $kubeadmKubeconfig -WarningVariable w -WarningAction SilentlyContinue
            $w | Should -BeNullOrEmpty
            $config.Warnings | Should -BeNullOrEmpty
        }
    }

    Context 'fields set but not in effect' {
        BeforeAll {
            $kubeadm = Get-KubeletConfig -Path $kubeadmConfig -KubeconfigPath $kubeadmKubeconfig
            $file = Join-Path $TestDrive 'not-in-effect.yaml'
            Set-Content $file ("apiVersion: kubelet.config.k8s.io/v1beta1`nkind: KubeletConfiguration`n" +
                "staticPodPath: /etc/kubernetes/manifests`nkernelMemcgNotification: true`nevictionHard:`n  memory.available: 300Mi`nsyncFrequency: 0s`n" +
                "staticPodURLHeader:`n  Authorization:`n  - Bearer s3cr3t-t0ken`n")
            $config = Get-KubeletConfig -Path $file -KubeconfigPath $kubeadmKubeconfig -WarningVariable readWarnings
        }

        It 'lists them as typed objects with field, file, line and reason' {
            $config.NotInEffect[0].GetType().FullName | Should -Be 'KubeletPS.Output.KubeletConfigFieldNotInEffect'
            $notifier = $config.NotInEffect | Where-Object Field -EQ 'kernelMemcgNotification'
            $notifier.Path | Should -Be $file
            $notifier.Reason | Should -Match 'memory threshold notifier'
            # evictionHard is in effect: the eviction manager's.
            $config.NotInEffect.Field | Should -Not -Contain 'evictionHard'
            # kubeadm's cgroupDriver is in effect: the container manager's driver.
            $kubeadm.NotInEffect.Field | Should -Not -Contain 'cgroupDriver'
            $kubeadm.NotInEffect.Field | Should -Not -Contain 'rotateCertificates'
            $kubeadm.NotInEffect.Field | Should -Not -Contain 'authentication.x509.clientCAFile'
            # In effect, or kubeadm's zero values (kubelet's defaults): not listed.
            $kubeadm.NotInEffect.Field | Should -Not -Contain 'staticPodPath'
            $kubeadm.NotInEffect.Field | Should -Not -Contain 'syncFrequency'
            $kubeadm.NotInEffect.Field | Should -Not -Contain 'shutdownGracePeriod'
        }

        It 'lists only what the file sets, never a default, and never a secret value' {
            # evictionHard is set too, but in effect (the eviction manager): not listed.
            $config.NotInEffect.Field | Should -Be @('kernelMemcgNotification', 'staticPodURLHeader')
            $config.NotInEffect[0].Line | Should -Be 4
            $config.NotInEffect[0].Value | Should -Be 'true'
            $config.NotInEffect[1].Value | Should -BeNullOrEmpty
            ($config | Format-List * | Out-String -Width 300) + ($config.NotInEffect | Format-List * | Out-String -Width 300) + ($config.Settings | ConvertTo-Json -Depth 5) |
                Should -Not -Match 's3cr3t'
        }

        It 'does not warn about them: only an agent that starts does' {
            $readWarnings | Should -BeNullOrEmpty
        }

        It 'shows their count and names in the default view, and a table of them' {
            $config | Out-String -Width 200 | Should -Match '(?m)^NotInEffect\s+: 2: kernelMemcgNotification, staticPodURLHeader'
            $text = $config | Select-Object -ExpandProperty NotInEffect | Out-String -Width 200
            $text | Should -Match '(?m)^Field\s+Line\s+Value\s+Reason'
            $text | Should -Match '(?m)^kernelMemcgNotification\s+4 true\s+.*no memory threshold notifier'
        }
    }

    Context 'module reload' {
        It 'still reaches the engine after Remove-Module and Import-Module' {
            Remove-Module KubeletPS
            Import-Module (Get-TestModulePath) -Force
            (Get-KubeletConfig -Path $kubeadmConfig -KubeconfigPath $kubeadmKubeconfig).ClusterDomain | Should -Be 'cluster.local'
        }
    }

    Context 'a kind node' {
        It 'keeps kind''s partial eviction thresholds and swap setting' {
            $kind = Get-KubeletConfig -Path (Join-Path $data 'kind/config.yaml') -KubeconfigPath (Join-Path $data 'kind/kubelet.conf')
            $kind.EvictionHard.Count | Should -Be 3
            $kind.EvictionHard.'nodefs.available' | Should -Be '0%'
            $kind.FailSwapOn | Should -BeFalse
            $kind.Server | Should -Be 'https://kind-control-plane:6443'
        }
    }

    Context '-Root on a mounted node image' {
        BeforeAll {
            $image = Join-Path $TestDrive 'image'
            $null = New-Item -ItemType Directory -Force (Join-Path $image 'var/lib/kubelet'), (Join-Path $image 'etc/kubernetes')
            Copy-Item $kubeadmConfig (Join-Path $image 'var/lib/kubelet/config.yaml')
            Copy-Item $kubeadmKubeconfig (Join-Path $image 'etc/kubernetes/kubelet.conf')
        }

        It 'reads the default files under the root and moves absolute paths under it' {
            $config = Get-KubeletConfig -Root $image
            $config.Path | Should -Be (Join-Path $image 'var/lib/kubelet/config.yaml')
            $config.KubeconfigPath | Should -Be (Join-Path $image 'etc/kubernetes/kubelet.conf')
            $config.StaticPodPath | Should -Be (Join-Path $image 'etc/kubernetes/manifests')
            $config.ClientKey | Should -Be (Join-Path $image 'var/lib/kubelet/pki/kubelet-client-current.pem')
            $config.ContainerRuntimeEndpoint | Should -Be 'unix:///run/containerd/containerd.sock'
        }

        It 'uses kubelet defaults when only -KubeconfigPath is given and the image has no config file' {
            $empty = Join-Path $TestDrive 'empty'
            $null = New-Item -ItemType Directory -Force $empty
            $config = Get-KubeletConfig -Root $empty -KubeconfigPath $kubeadmKubeconfig
            $config.Path | Should -BeNullOrEmpty
            $config.CgroupDriver | Should -Be 'cgroupfs'
            $config.Server | Should -Be 'https://192.168.56.10:6443'
        }

        It 'fails when the default files are missing, naming the path' {
            $empty = Join-Path $TestDrive 'empty2'
            $null = New-Item -ItemType Directory -Force $empty
            $record = Get-ErrorRecord { Get-KubeletConfig -Root $empty }
            $record.FullyQualifiedErrorId | Should -Be 'GetKubeletConfigFileNotFound,KubeletPS.Commands.GetKubeletConfigCommand'
            $record.CategoryInfo.Category | Should -Be 'ObjectNotFound'
            $record.TargetObject | Should -Be (Join-Path $empty 'var/lib/kubelet/config.yaml')
            $record.Exception.Message | Should -BeLike "*$empty/var/lib/kubelet/config.yaml*"
        }

        It 'fails when the root does not exist' {
            $record = Get-ErrorRecord { Get-KubeletConfig -Root (Join-Path $TestDrive 'nope') }
            $record.FullyQualifiedErrorId | Should -BeLike 'GetKubeletConfigRootNotFound,*'
        }
    }

    Context 'pipeline input' {
        It 'takes file objects from Get-ChildItem' {
            $results = Get-ChildItem (Join-Path $data '*/config.yaml') | Where-Object { $_.Directory.Name -in 'kubeadm', 'kind' } |
                Get-KubeletConfig -KubeconfigPath $kubeadmKubeconfig
            @($results).Count | Should -Be 2
            $results.ClusterDomain | Should -Be @('cluster.local', 'cluster.local')
        }

        It 'takes path strings and wildcards' {
            @($kubeadmConfig | Get-KubeletConfig -KubeconfigPath $kubeadmKubeconfig).Count | Should -Be 1
            @(Get-KubeletConfig -Path (Join-Path $data 'k*/config.yaml') -KubeconfigPath $kubeadmKubeconfig).Count | Should -Be 2
        }

        It 'relative paths resolve against the file''s folder' {
            $config = Get-KubeletConfig -LiteralPath (Join-Path $data 'relative/config.yaml') -KubeconfigPath (Join-Path $data 'relative/kubelet.conf')
            $config.StaticPodPath | Should -Be (Join-Path $data 'relative/manifests')
            $config.ClientCAFile | Should -Be (Join-Path $data 'relative/pki/ca.crt')
            $config.CertificateAuthority | Should -Be (Join-Path $data 'relative/pki/ca.crt')
            $config.ClientKey | Should -Be (Join-Path $data 'relative/pki/client.key')
            $config.NodeStatusReportFrequency | Should -Be ([timespan]'00:00:20')
            $config.EvictionHard.Count | Should -Be 0
        }
    }

    Context 'bad input' {
        It 'reports YAML that does not parse with file, line and column' {
            $file = Join-Path $data 'broken/bad-yaml.yaml'
            $record = Get-ErrorRecord { Get-KubeletConfig -Path $file -KubeconfigPath $kubeadmKubeconfig }
            $record.FullyQualifiedErrorId | Should -Be 'GetKubeletConfigInvalidYaml,KubeletPS.Commands.GetKubeletConfigCommand'
            $record.CategoryInfo.Category | Should -Be 'InvalidData'
            $record.TargetObject | Should -Be $file
            $record.Exception.Message | Should -BeLike "$($file):5:16: *"
            $record.Exception.Line | Should -Be 5
        }

        It 'refuses a billion-laughs config file and kubeconfig at the alias, after reading a few KiB' {
            # Nine anchors of nine aliases each: 9^9 values once expanded.
            $laughs = @('a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]') +
                @(foreach ($c in 'bcdefghi'.ToCharArray()) { "${c}: &$c [$((@("*$([char]([int]$c - 1))") * 9) -join ', ')]" })
            $config = Join-Path $TestDrive 'laughs.yaml'
            Set-Content $config (@('apiVersion: kubelet.config.k8s.io/v1beta1', 'kind: KubeletConfiguration') + $laughs)
            $before = [GC]::GetTotalAllocatedBytes($true)
            $record = Get-ErrorRecord { Get-KubeletConfig -Path $config -KubeconfigPath $kubeadmKubeconfig }
            ([GC]::GetTotalAllocatedBytes($true) - $before) | Should -BeLessThan 64MB
            $record.FullyQualifiedErrorId | Should -BeLike 'GetKubeletConfigInvalidYaml,*'
            $record.Exception.Message | Should -Match "^$([regex]::Escape($config)):\d+:\d+: document contains excessive aliasing"

            $kubeconfig = Join-Path $TestDrive 'laughs.conf'
            Set-Content $kubeconfig (@('apiVersion: v1', 'kind: Config', 'preferences:') + ($laughs | ForEach-Object { "  $_" }))
            $record = Get-ErrorRecord { Get-KubeletConfig -Path $kubeadmConfig -KubeconfigPath $kubeconfig }
            $record.Exception.Message | Should -Match "^$([regex]::Escape($kubeconfig)):\d+:\d+: document contains excessive aliasing"
        }

        It 'says which kind was found and which is expected' {
            $record = Get-ErrorRecord { Get-KubeletConfig -Path (Join-Path $data 'broken/wrong-kind.yaml') -KubeconfigPath $kubeadmKubeconfig }
            $record.FullyQualifiedErrorId | Should -BeLike 'GetKubeletConfigWrongKind,*'
            $record.Exception.Message | Should -Match 'kind is "Config", expected "KubeletConfiguration"'

            $record = Get-ErrorRecord { Get-KubeletConfig -Path (Join-Path $data 'broken/wrong-apiversion.yaml') -KubeconfigPath $kubeadmKubeconfig }
            $record.FullyQualifiedErrorId | Should -BeLike 'GetKubeletConfigWrongKind,*'
            $record.Exception.Message | Should -Match 'apiVersion is "kubelet.config.k8s.io/v1alpha1", expected "kubelet.config.k8s.io/v1beta1"'
        }

        It 'names the field and line of a bad duration' {
            $file = Join-Path $data 'broken/bad-duration.yaml'
            $record = Get-ErrorRecord { Get-KubeletConfig -Path $file -KubeconfigPath $kubeadmKubeconfig }
            $record.FullyQualifiedErrorId | Should -BeLike 'GetKubeletConfigInvalidValue,*'
            $record.CategoryInfo.Category | Should -Be 'InvalidData'
            $record.Exception.Message | Should -Be "$($file):4:16: syncFrequency: 'abc' is not a duration (Go format, e.g. 1m0s, 10s, 300ms)."
        }

        It 'reports a missing file by name' {
            $file = Join-Path $TestDrive 'missing.yaml'
            $record = Get-ErrorRecord { Get-KubeletConfig -Path $file -KubeconfigPath $kubeadmKubeconfig }
            $record.FullyQualifiedErrorId | Should -BeLike 'GetKubeletConfigFileNotFound,*'
            $record.CategoryInfo.Category | Should -Be 'ObjectNotFound'
            $record.TargetObject | Should -Be $file
        }

        It 'reports a kubeconfig without current-context' {
            $file = Join-Path $data 'broken/no-current-context.conf'
            $record = Get-ErrorRecord { Get-KubeletConfig -Path $kubeadmConfig -KubeconfigPath $file }
            $record.FullyQualifiedErrorId | Should -BeLike 'GetKubeletConfigInvalidKubeconfig,*'
            $record.TargetObject | Should -Be $file
            $record.Exception.Message | Should -Match 'no current-context'
        }

        It 'warns about unknown fields with their line and keeps them in the output' {
            $file = Join-Path $data 'broken/unknown-field.yaml'
            $config = Get-KubeletConfig -Path $file -KubeconfigPath $kubeadmKubeconfig -WarningVariable warnings -WarningAction SilentlyContinue
            @($warnings).Count | Should -Be 2
            "$($warnings[0])" | Should -Be "$($file):4:1: unknown field ""maxPod""; it is ignored."
            "$($warnings[1])" | Should -Match 'did you mean "cacheTTL"'
            $config.UnknownFields | Should -Be @('maxPod', 'authentication.webhook.cacheTtl')
            $config.Warnings.Count | Should -Be 2
            $config.ClusterDomain | Should -Be 'cluster.local'
        }
    }
}
