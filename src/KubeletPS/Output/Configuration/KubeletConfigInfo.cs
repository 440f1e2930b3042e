using System.Collections.Specialized;
using KubeletPS.Core.Configuration;

namespace KubeletPS.Output;

/// <summary>
/// A node's effective kubelet configuration, as Get-KubeletConfig returns it: the values the
/// real kubelet would use (defaults applied, relative paths resolved), the API server and
/// credentials' sources from the kubeconfig, and every field under <see cref="Settings"/>.
/// Key material is never here: ClientKey says where the key is, not what it is.
/// </summary>
public sealed class KubeletConfigInfo
{
    internal KubeletConfigInfo(LoadedKubeletConfig loaded)
    {
        var c = loaded.Configuration;
        var k = loaded.Kubeconfig;
        Path = loaded.ConfigPath;
        KubeconfigPath = loaded.KubeconfigPath;
        StaticPodPath = c.StaticPodPath;
        ClusterDNS = c.ClusterDns?.ToArray() ?? [];
        ClusterDomain = c.ClusterDomain;
        ClientCAFile = c.Authentication.X509.ClientCAFile;
        TlsCertFile = c.TlsCertFile;
        TlsPrivateKeyFile = c.TlsPrivateKeyFile;
        RotateCertificates = c.RotateCertificates;
        ServerTLSBootstrap = c.ServerTlsBootstrap;
        ContainerRuntimeEndpoint = c.ContainerRuntimeEndpoint;
        ImageServiceEndpoint = string.IsNullOrEmpty(c.ImageServiceEndpoint) ? c.ContainerRuntimeEndpoint : c.ImageServiceEndpoint;
        CgroupDriver = c.CgroupDriver;
        MaxPods = c.MaxPods;
        PodCIDR = c.PodCidr;
        ProviderID = c.ProviderId;
        ResolvConf = c.ResolvConf ?? "";
        Address = c.Address;
        Port = c.Port;
        HealthzPort = c.HealthzPort ?? 0;
        SyncFrequency = c.SyncFrequency;
        FileCheckFrequency = c.FileCheckFrequency;
        NodeStatusUpdateFrequency = c.NodeStatusUpdateFrequency;
        NodeStatusReportFrequency = c.NodeStatusReportFrequency;
        RuntimeRequestTimeout = c.RuntimeRequestTimeout;
        NodeLeaseDurationSeconds = c.NodeLeaseDurationSeconds;
        RegisterNode = c.RegisterNode ?? true;
        FailSwapOn = c.FailSwapOn ?? true;
        Settings = ConfigSettings.ToDictionary(c);
        EvictionHard = (OrderedDictionary)Settings["evictionHard"]!;
        FeatureGates = Settings["featureGates"] as OrderedDictionary ?? new OrderedDictionary();
        Context = k?.ContextName;
        Server = k?.Server;
        CertificateAuthority = k?.CertificateAuthoritySource;
        InsecureSkipTlsVerify = k?.InsecureSkipTlsVerify ?? false;
        ClientCertificate = k?.ClientCertificateSource;
        ClientKey = k?.ClientKeySource;
        Token = k?.TokenSource;
        Warnings = loaded.Warnings.Select(w => w.ToString()).ToArray();
        UnknownFields = loaded.UnknownFields.Select(w => w.Field).ToArray();
        NotInEffect = loaded.NotInEffect.Select(f => new KubeletConfigFieldNotInEffect(f)).ToArray();
    }

    /// <summary>The kubelet configuration file read; null when there was none and kubelet's defaults apply.</summary>
    public string? Path { get; }

    /// <summary>The kubeconfig read; null when there was none (a standalone kubelet).</summary>
    public string? KubeconfigPath { get; }

    public string StaticPodPath { get; }
    public string[] ClusterDNS { get; }
    public string ClusterDomain { get; }

    /// <summary>authentication.x509.clientCAFile: the CA that signs clients of the kubelet's server.</summary>
    public string ClientCAFile { get; }

    public string TlsCertFile { get; }
    public string TlsPrivateKeyFile { get; }
    public bool RotateCertificates { get; }
    public bool ServerTLSBootstrap { get; }
    public string ContainerRuntimeEndpoint { get; }
    public string ImageServiceEndpoint { get; }
    public string CgroupDriver { get; }
    public int MaxPods { get; }
    public string PodCIDR { get; }
    public string ProviderID { get; }
    public string ResolvConf { get; }
    public string Address { get; }
    public int Port { get; }
    public int HealthzPort { get; }
    public TimeSpan SyncFrequency { get; }
    public TimeSpan FileCheckFrequency { get; }
    public TimeSpan NodeStatusUpdateFrequency { get; }
    public TimeSpan NodeStatusReportFrequency { get; }
    public TimeSpan RuntimeRequestTimeout { get; }
    public int NodeLeaseDurationSeconds { get; }
    public bool RegisterNode { get; }
    public bool FailSwapOn { get; }
    public OrderedDictionary EvictionHard { get; }
    public OrderedDictionary FeatureGates { get; }

    /// <summary>The kubeconfig context used (its current-context).</summary>
    public string? Context { get; }

    public string? Server { get; }

    /// <summary>The API server's CA: its file, "embedded", or null when the kubeconfig names none.</summary>
    public string? CertificateAuthority { get; }

    public bool InsecureSkipTlsVerify { get; }

    /// <summary>The client certificate's file or "embedded".</summary>
    public string? ClientCertificate { get; }

    /// <summary>The client key's file or "embedded"; never the key.</summary>
    public string? ClientKey { get; }

    /// <summary>The bearer token's file or "embedded"; never the token.</summary>
    public string? Token { get; }

    /// <summary>Every problem kubelet tolerates (unknown fields), as "file:line:column: message".</summary>
    public string[] Warnings { get; }

    /// <summary>The paths of the fields kubelet does not know (e.g. "authentication.webhook.cacheTtl").</summary>
    public string[] UnknownFields { get; }

    /// <summary>The fields the file sets (never a default) that the agent does not act on, each with its line and the reason.</summary>
    public KubeletConfigFieldNotInEffect[] NotInEffect { get; }

    /// <summary>Every KubeletConfiguration field with its effective value, keyed by YAML name; nested objects are nested dictionaries, durations Go strings ("1m0s").</summary>
    public OrderedDictionary Settings { get; }

    public override string ToString() => Path ?? "(kubelet defaults)";
}
