using System.Text.Json;
using KubeletPS.Core.Configuration;

namespace KubeletPS.Core.Tests.Configuration;

/// <summary>Which fields a config file sets that the agent does not act on (Get-KubeletConfig's NotInEffect, the start warning).</summary>
public sealed class KubeletConfigurationSupportTests : IDisposable
{
    private readonly ConfigTestFiles _files = new();

    public void Dispose() => _files.Dispose();

    private static ParsedKubeletConfiguration Parse(string body, string path = "/etc/kubelet/config.yaml") =>
        KubeletConfigurationFile.ParseWithAudit("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n" + body, path, null);

    [Fact]
    public void Only_set_fields_that_are_not_in_effect_are_listed_with_their_line()
    {
        var parsed = Parse(
            "staticPodPath: /etc/kubernetes/manifests\n" +   // line 3, in effect
            "kernelMemcgNotification: true\n" +              // line 4, not in effect
            "evictionHard:\n" +                               // line 5, in effect
            "  memory.available: 300Mi\n" +
            "logging:\n" +
            "  options:\n" +
            "    text:\n" +
            "      splitStream: true\n" +                     // line 10, nested, not in effect
            "  verbosity: 0\n");

        Assert.Collection(parsed.NotInEffect,
            f =>
            {
                Assert.Equal("kernelMemcgNotification", f.Field);
                Assert.Equal((4, 1), (f.Line, f.Column));
                Assert.Equal("true", f.Value);
                Assert.Contains("no memory threshold notifier", f.Reason);
                Assert.Equal("/etc/kubelet/config.yaml", f.File);
            },
            f =>
            {
                Assert.Equal("logging.options.text.splitStream", f.Field);
                Assert.Equal((10, 7), (f.Line, f.Column));
                Assert.Equal("true", f.Value);
                Assert.Contains("not klog", f.Reason);
            });
        Assert.Equal("/etc/kubelet/config.yaml:4:1: kernelMemcgNotification is set but not in effect: " + parsed.NotInEffect[0].Reason,
            parsed.NotInEffect[0].ToString());
    }

    [Fact]
    public void Defaults_zero_values_and_nulls_are_never_listed()
    {
        Assert.Empty(Parse("").NotInEffect);
        // Defaulted fields (evictionHard, cgroupDriver, healthzPort...) have values, but the file did not set them.
        Assert.NotNull(Parse("").Configuration.EvictionHard);
        // kubeadm's zero values mean "the default" to kubelet; null leaves an optional field unset.
        Assert.Empty(Parse("imageMinimumGCAge: 0s\nshutdownGracePeriod: 0s\ncgroupDriver: \"\"\nrotateCertificates: false\n" +
            "logging:\n  flushFrequency: 0\n  verbosity: 0\nevictionHard: null\nfeatureGates:\ncrashLoopBackOff: {}\n").NotInEffect);
        // An optional (pointer) field keeps an explicit zero, which kubelet honours: it is set.
        var explicitZero = Parse("evictionHard: {}\niptablesMasqueradeBit: 0\n").NotInEffect;
        // (evictionHard: {} is one too, but the eviction manager acts on it: it is not listed.)
        Assert.Equal(["iptablesMasqueradeBit"], explicitZero.Select(f => f.Field));
        Assert.Equal(["0"], explicitZero.Select(f => f.Value));
    }

    [Fact]
    public void Unknown_fields_are_warnings_not_fields_not_in_effect()
    {
        var parsed = Parse("evictionHrad:\n  memory.available: 1Mi\n");
        Assert.Empty(parsed.NotInEffect);
        Assert.Single(parsed.Warnings);
    }

    [Fact]
    public void A_secret_header_value_is_never_shown()
    {
        // staticPodURLHeader carries credentials for the pod URL (an Authorization header).
        var parsed = Parse("staticPodURL: https://pods.example/node-1\nstaticPodURLHeader:\n  Authorization:\n  - Bearer s3cr3t-t0ken\n");
        var header = Assert.Single(parsed.NotInEffect, f => f.Field == "staticPodURLHeader");
        Assert.Null(header.Value);
        Assert.Equal(4, header.Line);
        Assert.DoesNotContain("s3cr3t", string.Join("\n", parsed.NotInEffect.Select(f => $"{f} {f.Value}")));
        // Nor through Get-KubeletConfig's Settings.
        Assert.DoesNotContain("s3cr3t", JsonSerializer.Serialize(ConfigSettings.ToDictionary(parsed.Configuration)));
        Assert.Equal("https://pods.example/node-1", Assert.Single(parsed.NotInEffect, f => f.Field == "staticPodURL").Value);
    }

    [Fact]
    public void Every_config_field_has_a_decided_state()
    {
        // A new [ConfigField] property must get a line in KubeletConfigurationSupport: in effect, or why not.
        var leaves = KubeletConfigurationSupport.LeafFields(typeof(KubeletConfiguration)).Select(l => l.Path).ToList();
        Assert.True(leaves.Count > 140, $"only {leaves.Count} leaf fields");
        var undecided = leaves.Except(KubeletConfigurationSupport.DecidedFields).ToList();
        Assert.True(undecided.Count == 0, "no support state for: " + string.Join(", ", undecided));
        var stale = KubeletConfigurationSupport.DecidedFields.Except(leaves).ToList();
        Assert.True(stale.Count == 0, "support states for fields that do not exist: " + string.Join(", ", stale));
        Assert.Throws<ArgumentException>(() => KubeletConfigurationSupport.Reason("evictionHrad"));
    }

    [Theory]
    [InlineData("staticPodPath")]
    [InlineData("syncFrequency")]
    [InlineData("fileCheckFrequency")]
    [InlineData("podLogsDir")]
    [InlineData("clusterDNS")]
    [InlineData("clusterDomain")]
    [InlineData("resolvConf")]
    [InlineData("containerRuntimeEndpoint")]
    [InlineData("runtimeRequestTimeout")]
    [InlineData("nodeStatusUpdateFrequency")]
    [InlineData("nodeStatusReportFrequency")]
    [InlineData("nodeLeaseDurationSeconds")]
    [InlineData("maxPods")]
    [InlineData("providerID")]
    [InlineData("registerWithTaints")]
    [InlineData("systemReserved")]
    [InlineData("kubeReserved")]
    [InlineData("seccompDefault")]
    [InlineData("allowedUnsafeSysctls")]
    [InlineData("containerLogMaxSize")]
    [InlineData("containerLogMaxFiles")]
    [InlineData("containerLogMaxWorkers")]
    [InlineData("containerLogMonitorInterval")]
    [InlineData("enableServer")]
    [InlineData("address")]
    [InlineData("port")]
    [InlineData("tlsCertFile")]
    [InlineData("tlsMinVersion")]
    [InlineData("authentication.x509.clientCAFile")]
    [InlineData("authentication.webhook.cacheTTL")]
    [InlineData("authorization.mode")]
    [InlineData("healthzPort")]
    [InlineData("imageGCHighThresholdPercent")]
    [InlineData("imageGCLowThresholdPercent")]
    [InlineData("imageMinimumGCAge")]
    [InlineData("imageMaximumGCAge")]
    [InlineData("cgroupDriver")]
    [InlineData("cgroupsPerQOS")]
    [InlineData("enforceNodeAllocatable")]
    [InlineData("evictionHard")]
    [InlineData("evictionSoft")]
    [InlineData("evictionSoftGracePeriod")]
    [InlineData("evictionMinimumReclaim")]
    [InlineData("evictionPressureTransitionPeriod")]
    [InlineData("evictionMaxPodGracePeriod")]
    [InlineData("mergeDefaultEvictionSettings")]
    public void Fields_the_agent_reads_are_in_effect(string field) => Assert.True(KubeletConfigurationSupport.IsInEffect(field));

    [Theory]
    [InlineData("readOnlyPort", "read-only port")]
    [InlineData("iptablesMasqueradeBit", "iptables")]
    [InlineData("qosReserved", "QoS cgroups")]
    [InlineData("kubeletCgroups", "not acted upon")]
    [InlineData("kernelMemcgNotification", "memory threshold notifier")]
    public void Fields_the_agent_does_not_read_say_why(string field, string reason) =>
        Assert.Contains(reason, KubeletConfigurationSupport.Reason(field));

    [Fact]
    public void A_fully_populated_config_lists_exactly_the_fields_not_in_effect()
    {
        // full-config.yaml sets every field, nested ones included, to a non-default value.
        var fullPath = Path.Combine(AppContext.BaseDirectory, "Configuration", "full-config.yaml");
        var parsed = KubeletConfigurationFile.ParseWithAudit(File.ReadAllText(fullPath), fullPath, null);
        var expected = KubeletConfigurationSupport.LeafFields(typeof(KubeletConfiguration)).Select(l => l.Path)
            .Where(p => !KubeletConfigurationSupport.IsInEffect(p)).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(expected, parsed.NotInEffect.Select(f => f.Field).Order(StringComparer.Ordinal).ToList());
        var lines = File.ReadAllLines(fullPath);
        foreach (var field in parsed.NotInEffect)
        {
            var key = field.Field[(field.Field.LastIndexOf('.') + 1)..];
            Assert.StartsWith(key + ":", lines[field.Line - 1].TrimStart());
            Assert.Equal(lines[field.Line - 1].Length - lines[field.Line - 1].TrimStart().Length + 1, field.Column);
        }
    }

    [Fact]
    public async Task The_loader_keeps_them_and_warns_only_when_asked_once()
    {
        var path = _files.Config("readOnlyPort: 10255\nmaxPods: 20\n");
        var log = new ListLog();
        var loaded = await KubeletConfigLoader.LoadAsync(path, null, _files.Directory, log: log);
        var field = Assert.Single(loaded.NotInEffect);
        Assert.Equal(("readOnlyPort", 3, "10255"), (field.Field, field.Line, field.Value));
        // Reading the configuration (Get-KubeletConfig) does not warn; an agent's start does, once per field.
        Assert.DoesNotContain(log.Lines, l => l.Level == KubeletLogLevel.Warning);
        loaded.WarnNotInEffect(log);
        var warning = Assert.Single(log.Lines, l => l.Level == KubeletLogLevel.Warning);
        Assert.Equal($"{path}:3:1: readOnlyPort is set but not in effect: {field.Reason}", warning.Message);

        var defaults = await KubeletConfigLoader.LoadAsync(null, ConfigTestFiles.Data("kubeadm/kubelet.conf"), _files.Directory);
        Assert.Null(defaults.ConfigPath);
        Assert.Empty(defaults.NotInEffect);
    }

    [Fact]
    public async Task A_kubeadm_config_lists_what_kubeadm_sets_that_has_no_effect()
    {
        var loaded = await KubeletConfigLoader.LoadAsync(ConfigTestFiles.Data("kubeadm/config.yaml"), null, _files.Directory);
        var fields = loaded.NotInEffect.Select(f => f.Field).ToList();
        Assert.DoesNotContain("cgroupDriver", fields); // in effect: the container manager's driver
        Assert.DoesNotContain("rotateCertificates", fields); // in effect: the agent rotates its client certificate
        // The kubelet server acts on kubeadm's authentication settings.
        Assert.DoesNotContain("authentication.x509.clientCAFile", fields);
        // kubeadm's zero values (syncFrequency: 0s, imageMinimumGCAge: 0s...) are defaults, and in-effect fields are not listed.
        Assert.DoesNotContain("imageMinimumGCAge", fields);
        Assert.DoesNotContain("shutdownGracePeriod", fields);
        Assert.DoesNotContain("staticPodPath", fields);
        Assert.DoesNotContain("clusterDNS", fields);
    }

    private sealed class ListLog : IKubeletLog
    {
        public List<(KubeletLogLevel Level, string Message)> Lines { get; } = [];
        public void Write(KubeletLogLevel level, string message) => Lines.Add((level, message));
    }
}
