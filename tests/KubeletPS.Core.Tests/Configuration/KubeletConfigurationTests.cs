using System.Reflection;
using System.Text.Json;
using KubeletPS.Core.Configuration;

namespace KubeletPS.Core.Tests.Configuration;

public sealed class KubeletConfigurationTests : IDisposable
{
    private readonly ConfigTestFiles _files = new();

    public void Dispose() => _files.Dispose();

    private KubeletConfiguration Load(string body, out IReadOnlyList<ConfigWarning> warnings, string? root = null)
    {
        var path = _files.Config(body);
        return KubeletConfigurationFile.Parse(File.ReadAllText(path), path, root, out warnings);
    }

    private KubeletConfiguration Load(string body) => Load(body, out _);

    [Fact]
    public async Task Kubeadm_zero_values_become_kubelet_defaults()
    {
        var (c, warnings) = await KubeletConfigurationFile.LoadAsync(ConfigTestFiles.Data("kubeadm/config.yaml"));
        Assert.Empty(warnings);
        Assert.Equal(TimeSpan.FromMinutes(1), c.SyncFrequency);
        Assert.Equal(TimeSpan.FromSeconds(20), c.FileCheckFrequency);
        Assert.Equal(TimeSpan.FromSeconds(20), c.HttpCheckFrequency);
        Assert.Equal(TimeSpan.FromSeconds(10), c.NodeStatusUpdateFrequency);
        Assert.Equal(TimeSpan.FromMinutes(5), c.NodeStatusReportFrequency);
        Assert.Equal(TimeSpan.FromMinutes(2), c.RuntimeRequestTimeout);
        Assert.Equal(TimeSpan.FromHours(4), c.StreamingConnectionIdleTimeout);
        Assert.Equal(TimeSpan.FromMinutes(2), c.Authentication.Webhook.CacheTtl);
        Assert.Equal(TimeSpan.FromMinutes(5), c.Authorization.Webhook.CacheAuthorizedTtl);
        Assert.Equal(TimeSpan.FromSeconds(30), c.Authorization.Webhook.CacheUnauthorizedTtl);
        Assert.Equal(TimeSpan.Zero, c.ImageMaximumGCAge);
        Assert.Equal(TimeSpan.Zero, c.ShutdownGracePeriod);
        Assert.Equal("unix:///run/containerd/containerd.sock", c.ContainerRuntimeEndpoint);
        Assert.Equal("systemd", c.CgroupDriver);
        Assert.Equal("cluster.local", c.ClusterDomain);
        Assert.Equal(["10.96.0.10"], c.ClusterDns!);
        Assert.Equal("/etc/kubernetes/manifests", c.StaticPodPath);
        Assert.Equal(110, c.MaxPods);
        Assert.Equal(40, c.NodeLeaseDurationSeconds);
        Assert.Equal("text", c.Logging.Format);
        Assert.Equal(TimeSpan.FromSeconds(5), c.Logging.FlushFrequency);
        Assert.Equal("0", c.Logging.Options.Json.InfoBufferSize);
    }

    [Fact]
    public void Empty_config_gets_every_documented_default()
    {
        var c = Load("");
        Assert.True(c.EnableServer);
        Assert.Equal("0.0.0.0", c.Address);
        Assert.Equal(10250, c.Port);
        Assert.False(c.Authentication.Anonymous.Enabled);
        Assert.True(c.Authentication.Webhook.Enabled);
        Assert.Equal("Webhook", c.Authorization.Mode);
        Assert.Equal(5, c.RegistryPullQps);
        Assert.Equal(10, c.RegistryBurst);
        Assert.Equal(50, c.EventRecordQps);
        Assert.Equal(100, c.EventBurst);
        Assert.True(c.EnableDebuggingHandlers);
        Assert.Equal(10248, c.HealthzPort);
        Assert.Equal("127.0.0.1", c.HealthzBindAddress);
        Assert.Equal(-999, c.OomScoreAdj);
        Assert.Equal(TimeSpan.FromMinutes(2), c.ImageMinimumGCAge);
        Assert.Equal(85, c.ImageGCHighThresholdPercent);
        Assert.Equal(80, c.ImageGCLowThresholdPercent);
        Assert.Equal(TimeSpan.FromMinutes(1), c.VolumeStatsAggPeriod);
        Assert.True(c.CgroupsPerQos);
        Assert.Equal("cgroupfs", c.CgroupDriver);
        Assert.Equal("none", c.CpuManagerPolicy);
        Assert.Equal(TimeSpan.FromSeconds(10), c.CpuManagerReconcilePeriod);
        Assert.Equal("None", c.MemoryManagerPolicy);
        Assert.Equal("none", c.TopologyManagerPolicy);
        Assert.Equal("container", c.TopologyManagerScope);
        Assert.Equal("promiscuous-bridge", c.HairpinMode);
        Assert.Equal(-1, c.PodPidsLimit);
        Assert.Equal("/etc/resolv.conf", c.ResolvConf);
        Assert.True(c.CpuCfsQuota);
        Assert.Equal(TimeSpan.FromMilliseconds(100), c.CpuCfsQuotaPeriod);
        Assert.Equal(50, c.NodeStatusMaxImages);
        Assert.Equal(1_000_000, c.MaxOpenFiles);
        Assert.Equal("application/vnd.kubernetes.protobuf", c.ContentType);
        Assert.Equal(50, c.KubeApiQps);
        Assert.Equal(100, c.KubeApiBurst);
        Assert.True(c.SerializeImagePulls);
        Assert.Equal(TimeSpan.FromMinutes(5), c.EvictionPressureTransitionPeriod);
        Assert.True(c.EnableControllerAttachDetach);
        Assert.True(c.MakeIPTablesUtilChains);
        Assert.Equal(14, c.IPTablesMasqueradeBit);
        Assert.Equal(15, c.IPTablesDropBit);
        Assert.True(c.FailSwapOn);
        Assert.Equal("10Mi", c.ContainerLogMaxSize);
        Assert.Equal(5, c.ContainerLogMaxFiles);
        Assert.Equal(1, c.ContainerLogMaxWorkers);
        Assert.Equal(TimeSpan.FromSeconds(10), c.ContainerLogMonitorInterval);
        Assert.Equal("Watch", c.ConfigMapAndSecretChangeDetectionStrategy);
        Assert.Equal(["pods"], c.EnforceNodeAllocatable!);
        Assert.Equal("/usr/libexec/kubernetes/kubelet-plugins/volume/exec/", c.VolumePluginDir);
        Assert.True(c.EnableSystemLogHandler);
        Assert.True(c.EnableProfilingHandler);
        Assert.True(c.EnableDebugFlagsHandler);
        Assert.False(c.SeccompDefault);
        Assert.Equal(0.9, c.MemoryThrottlingFactor);
        Assert.True(c.RegisterNode);
        Assert.True(c.LocalStorageCapacityIsolation);
        Assert.Equal("/var/log/pods", c.PodLogsDir);
        Assert.Equal(TimeSpan.FromSeconds(2), c.PodHousekeepingPeriod);
        Assert.Null(c.CrashLoopBackOff.MaxContainerRestartPeriod);
    }

    [Fact]
    public void Node_status_report_frequency_follows_an_explicit_update_frequency()
    {
        var c = Load("nodeStatusUpdateFrequency: 20s\n");
        Assert.Equal(TimeSpan.FromSeconds(20), c.NodeStatusUpdateFrequency);
        Assert.Equal(TimeSpan.FromSeconds(20), c.NodeStatusReportFrequency);

        c = Load("nodeStatusUpdateFrequency: 20s\nnodeStatusReportFrequency: 1m\n");
        Assert.Equal(TimeSpan.FromMinutes(1), c.NodeStatusReportFrequency);

        c = Load("nodeStatusUpdateFrequency: 0s\n");
        Assert.Equal(TimeSpan.FromSeconds(10), c.NodeStatusUpdateFrequency);
        Assert.Equal(TimeSpan.FromMinutes(5), c.NodeStatusReportFrequency);
    }

    [Fact]
    public void Eviction_hard_is_defaulted_only_when_absent()
    {
        var absent = Load("");
        Assert.Equal(["memory.available", "nodefs.available", "nodefs.inodesFree", "imagefs.available", "imagefs.inodesFree"], absent.EvictionHard!.Keys);
        Assert.Equal("100Mi", absent.EvictionHard["memory.available"]);

        Assert.Empty(Load("evictionHard: {}\n").EvictionHard!);

        var partial = Load("evictionHard:\n  memory.available: 300Mi\n");
        Assert.Equal(["memory.available"], partial.EvictionHard!.Keys);

        var merged = Load("mergeDefaultEvictionSettings: true\nevictionHard:\n  memory.available: 300Mi\n");
        Assert.Equal("300Mi", merged.EvictionHard!["memory.available"]);
        Assert.Equal("15%", merged.EvictionHard["imagefs.available"]);
        Assert.Equal(5, merged.EvictionHard.Count);

        Assert.Equal(5, Load("evictionHard: null\n").EvictionHard!.Count);
    }

    [Fact]
    public void Explicit_zero_keeps_its_meaning_for_optional_fields()
    {
        var c = Load("registryPullQPS: 0\neventRecordQPS: 0\nhealthzPort: 0\nresolvConf: \"\"\nenforceNodeAllocatable: []\nmaxPods: 0\nmaxParallelImagePulls: 5\npodPidsLimit: -7\n");
        Assert.Equal(0, c.RegistryPullQps);
        Assert.Equal(0, c.EventRecordQps);
        Assert.Equal(0, c.HealthzPort);
        Assert.Equal("", c.ResolvConf);
        Assert.Empty(c.EnforceNodeAllocatable!);
        Assert.Equal(110, c.MaxPods); // a plain field: zero means the default
        Assert.False(c.SerializeImagePulls); // follows maxParallelImagePulls >= 2
        Assert.Equal(-1, c.PodPidsLimit);
    }

    [Fact]
    public void Every_field_of_a_fully_populated_config_is_read()
    {
        var fullPath = Path.Combine(AppContext.BaseDirectory, "Configuration", "full-config.yaml");
        var full = KubeletConfigurationFile.Parse(File.ReadAllText(fullPath), fullPath, null, out var warnings);
        Assert.Empty(warnings);
        var empty = Load("");
        var fullSettings = ConfigSettings.ToDictionary(full);
        var emptySettings = ConfigSettings.ToDictionary(empty);
        var fields = typeof(KubeletConfiguration).GetProperties()
            .Select(p => p.GetCustomAttribute<ConfigFieldAttribute>()).OfType<ConfigFieldAttribute>()
            .Where(f => f.Name is not "apiVersion" and not "kind").ToList();
        var names = fields.Where(f => !f.Secret).Select(f => f.Name).ToList();
        Assert.True(names.Count > 120, $"only {names.Count} fields");
        var text = File.ReadAllText(fullPath);
        foreach (var secret in fields.Where(f => f.Secret))
        {
            Assert.Contains($"\n{secret.Name}:", text);
            Assert.False(fullSettings.Contains(secret.Name), $"{secret.Name} is secret");
        }
        foreach (var name in names)
        {
            Assert.Contains($"\n{name}:", text);
            Assert.True(fullSettings.Contains(name), name);
            Assert.NotEqual(JsonSerializer.Serialize(emptySettings[name]), JsonSerializer.Serialize(fullSettings[name]));
        }
        // A few values through the typed model, nested ones included.
        Assert.Equal(TimeSpan.FromSeconds(30), full.SyncFrequency);
        Assert.Equal(["Bearer abc"], full.StaticPodUrlHeader!["Authorization"]);
        Assert.Equal([23, 29], full.TlsCurvePreferences!);
        Assert.Equal(TimeSpan.FromSeconds(45), full.Authorization.Webhook.CacheUnauthorizedTtl);
        Assert.Equal(4096, full.PodPidsLimit);
        Assert.Equal(0.8, full.MemoryThrottlingFactor);
        Assert.Equal("NoSchedule", full.RegisterWithTaints![0].Effect);
        Assert.Equal("1Gi", full.ReservedMemory![0].Limits!["memory"]);
        Assert.Equal(10, full.ShutdownGracePeriodByPodPriority![0].ShutdownGracePeriodSeconds);
        Assert.Equal(6, full.Logging.VModule![0].Verbosity);
        Assert.Equal(131072, full.UserNamespaces!.IdsPerPod);
        Assert.Equal(TimeSpan.FromSeconds(60), full.CrashLoopBackOff.MaxContainerRestartPeriod);
        Assert.Equal("0,1", full.ReservedSystemCpus);
        Assert.Equal("1m30s", ((System.Collections.Specialized.OrderedDictionary)fullSettings["evictionSoftGracePeriod"]!)["memory.available"]);
        Assert.Equal("3m0s", ((System.Collections.Specialized.OrderedDictionary)((System.Collections.Specialized.OrderedDictionary)fullSettings["authentication"]!)["webhook"]!)["cacheTTL"]);
    }

    [Fact]
    public void Yaml_errors_name_file_line_and_column()
    {
        var path = ConfigTestFiles.Data("broken/bad-yaml.yaml");
        var e = Assert.Throws<KubeletConfigException>(() => KubeletConfigurationFile.Parse(File.ReadAllText(path), path, null, out _));
        Assert.Equal(path, e.Path);
        Assert.Equal(5, e.Line);
        Assert.Equal(16, e.Column);
        Assert.StartsWith($"{path}:5:16: the file is not valid YAML", e.Message);
        Assert.Equal(KubeletErrorKind.InvalidData, e.Category);
    }

    [Fact]
    public void Type_errors_name_the_field_and_its_line()
    {
        var e = Assert.Throws<KubeletConfigException>(() => Load("clusterDomain: x\nsyncFrequency: abc\n"));
        Assert.Equal("syncFrequency", e.Field);
        Assert.Equal(4, e.Line);
        Assert.Contains("syncFrequency: 'abc' is not a duration", e.Message);

        e = Assert.Throws<KubeletConfigException>(() => Load("authentication:\n  webhook:\n    enabled: maybe\n"));
        Assert.Equal("authentication.webhook.enabled", e.Field);
        Assert.Equal(5, e.Line);

        e = Assert.Throws<KubeletConfigException>(() => Load("maxPods: many\n"));
        Assert.Contains("maxPods: 'many' is not an integer", e.Message);

        e = Assert.Throws<KubeletConfigException>(() => Load("clusterDNS: 10.96.0.10\n"));
        Assert.Contains("clusterDNS: expected a list", e.Message);
    }

    [Theory]
    [InlineData("apiVersion: v1\nkind: Config\n", "kind is \"Config\", expected \"KubeletConfiguration\"", 2)]
    [InlineData("apiVersion: kubelet.config.k8s.io/v1alpha1\nkind: KubeletConfiguration\n", "apiVersion is \"kubelet.config.k8s.io/v1alpha1\", expected \"kubelet.config.k8s.io/v1beta1\"", 1)]
    [InlineData("kind: KubeletConfiguration\n", "the file has no apiVersion; expected kind \"KubeletConfiguration\" of apiVersion \"kubelet.config.k8s.io/v1beta1\"", null)]
    [InlineData("", "the file has no kind", null)]
    public void Wrong_kind_or_api_version_says_what_was_found_and_expected(string text, string message, int? line)
    {
        var path = _files.Write("wrong.yaml", text);
        var e = Assert.Throws<KubeletConfigException>(() => KubeletConfigurationFile.Parse(text, path, null, out _));
        Assert.Contains(message, e.Message);
        Assert.Equal(line, e.Line);
        Assert.Contains(e.Field, new[] { "kind", "apiVersion" });
    }

    [Fact]
    public void Unknown_fields_are_warnings_with_their_line_and_kept()
    {
        var path = ConfigTestFiles.Data("broken/unknown-field.yaml");
        var c = KubeletConfigurationFile.Parse(File.ReadAllText(path), path, null, out var warnings);
        Assert.Equal("cluster.local", c.ClusterDomain);
        Assert.Equal(2, warnings.Count);
        Assert.All(warnings, w => Assert.True(w.IsUnknownField));
        Assert.Equal(("maxPod", 4, 1), (warnings[0].Field, warnings[0].Line, warnings[0].Column));
        Assert.Equal(("authentication.webhook.cacheTtl", 7), (warnings[1].Field, warnings[1].Line));
        Assert.Contains("did you mean \"cacheTTL\"", warnings[1].Message);
        Assert.StartsWith($"{path}:4:1: unknown field \"maxPod\"", warnings[0].ToString());
    }

    [Fact]
    public void Duplicate_fields_are_yaml_errors_with_their_line()
    {
        var e = Assert.Throws<KubeletConfigException>(() => Load("maxPods: 10\nmaxPods: 20\n"));
        Assert.Equal(4, e.Line);
        Assert.Contains("Duplicate key maxPods", e.Message);
    }

    [Fact]
    public void Relative_paths_resolve_against_the_config_folder_and_absolute_ones_move_under_root()
    {
        var c = Load("staticPodPath: manifests\nauthentication:\n  x509:\n    clientCAFile: ../pki/ca.crt\ntlsCertFile: /var/lib/kubelet/pki/kubelet.crt\n", out _, root: "/mnt/node");
        Assert.Equal(Path.Combine(_files.Directory, "manifests"), c.StaticPodPath);
        Assert.Equal(Path.GetFullPath(Path.Combine(_files.Directory, "../pki/ca.crt")), c.Authentication.X509.ClientCAFile);
        Assert.Equal("/mnt/node/var/lib/kubelet/pki/kubelet.crt", c.TlsCertFile);
        Assert.Equal("/mnt/node/etc/resolv.conf", c.ResolvConf);
        Assert.Equal("unix:///run/containerd/containerd.sock", c.ContainerRuntimeEndpoint);

        var noRoot = Load("tlsCertFile: /var/lib/kubelet/pki/kubelet.crt\n");
        Assert.Equal("/var/lib/kubelet/pki/kubelet.crt", noRoot.TlsCertFile);
    }

    [Fact]
    public async Task Kind_config_keeps_its_partial_eviction_thresholds()
    {
        var (c, _) = await KubeletConfigurationFile.LoadAsync(ConfigTestFiles.Data("kind/config.yaml"));
        Assert.Equal(3, c.EvictionHard!.Count);
        Assert.Equal("0%", c.EvictionHard["nodefs.available"]);
        Assert.False(c.FailSwapOn);
        Assert.Equal(100, c.ImageGCHighThresholdPercent);
        Assert.Equal("/kubelet", c.CgroupRoot);
    }
}
