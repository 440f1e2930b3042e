using System.Security.Cryptography.X509Certificates;
using k8s;
using KubeletPS.Core.Api;
using KubeletPS.Core.Certificates.Bootstrap;
using KubeletPS.Core.Configuration;
using KubeletPS.Core.Configuration.Clientcmd;
using KubeletPS.Core.Node;
using KubeletPS.Core.Runtime;
using KubeletPS.Core.Runtime.Remote;

namespace KubeletPS.Core.Agent;

/// <summary>What registration would do: create the Node, or the changes that reconciling it makes.</summary>
public sealed record NodeRegistrationPlan(string NodeName, string Server, bool Create, IReadOnlyList<string> Changes);

/// <summary>What registration did, with the Node as the API server has it afterwards.</summary>
public sealed record NodeRegistrationOutcome(NodeSummary Node, bool Created, IReadOnlyList<string> Changes);

/// <summary>What the caller may override of the kubelet's own files (kubelet's command-line flags).</summary>
public sealed record NodeAgentRequest
{
    public string? ConfigPath { get; init; }
    public string? KubeconfigPath { get; init; }
    public string? Context { get; init; }
    /// <summary>--hostname-override; default the host name.</summary>
    public string? NodeName { get; init; }
    /// <summary>--node-labels, key=value items.</summary>
    public IReadOnlyList<string> Labels { get; init; } = [];
    /// <summary>--register-with-taints, key[=value]:Effect items, added to the config's registerWithTaints.</summary>
    public IReadOnlyList<string> Taints { get; init; } = [];
    /// <summary>--node-ip; default the address of the interface holding the default route.</summary>
    public string? NodeIp { get; init; }
    /// <summary>Overrides the config's containerRuntimeEndpoint.</summary>
    public string? RuntimeEndpoint { get; init; }
    /// <summary>--root-dir.</summary>
    public string RootDirectory { get; init; } = KubeletConfigurationDefaults.DefaultRootDirectory;
    /// <summary>--bootstrap-kubeconfig: when kubelet.conf is missing or its client certificate unusable, bootstrap with this one.</summary>
    public string? BootstrapKubeconfigPath { get; init; }
    /// <summary>--cert-dir: where the rotated kubelet-client-*.pem and kubelet-server-*.pem files live.</summary>
    public string CertificateDirectory { get; init; } = KubeletConfigurationDefaults.DefaultCertificateDirectory;
    /// <summary>Hears of each step of a TLS bootstrap at start (waiting for approval…); by default they are logged.</summary>
    public Action<CertificateBootstrapProgress>? BootstrapProgress { get; init; }
}

/// <summary>
/// The pieces the node half of the agent needs, composed once from the kubelet's files: the
/// effective configuration, an API client with the node's credentials, the node options and the
/// runtime. Cmdlets and the agent host use this, so they cannot disagree on defaults.
/// </summary>
public sealed class NodeAgentContext : IAsyncDisposable
{
    private readonly CriRuntimeClient _runtimeClient;

    private NodeAgentContext(LoadedKubeletConfig config, Kubeconfig kubeconfig, IKubernetes client, ApiIdentity identity,
        NodeAgentOptions options, CriRuntimeClient runtime, NodeCertificates certificates)
    {
        Certificates = certificates;
        Config = config;
        Kubeconfig = kubeconfig;
        Client = client;
        Identity = identity;
        Options = options;
        _runtimeClient = runtime;
        Runtime = runtime;
        Images = runtime;
        RuntimeHealth = new CriRuntimeHealthSource(runtime, runtime);
    }

    public LoadedKubeletConfig Config { get; }
    public Kubeconfig Kubeconfig { get; }
    public IKubernetes Client { get; }
    public ApiIdentity Identity { get; }
    public NodeAgentOptions Options { get; }
    /// <summary>CRI's runtime service (the one client the context owns and disposes).</summary>
    public IRuntimeService Runtime { get; }

    /// <summary>CRI's image service, over the same connection as <see cref="Runtime"/>.</summary>
    public IImageService Images { get; }
    public IRuntimeHealthSource RuntimeHealth { get; }

    /// <summary>The node's rotated certificates: the client certificate the API client presents, and their managers.</summary>
    public NodeCertificates Certificates { get; }

    public static async Task<NodeAgentContext> CreateAsync(NodeAgentRequest request, IKubeletLog log, CancellationToken cancellationToken)
    {
        var kubeconfigPath = request.KubeconfigPath ?? KubeletConfigLoader.DefaultKubeconfigPath;
        if (request.BootstrapKubeconfigPath is { } bootstrapPath)
        {
            await BootstrapIfNeededAsync(request, kubeconfigPath, bootstrapPath, log, cancellationToken).ConfigureAwait(false);
        }
        // A missing config.yaml means kubelet's defaults; the kubeconfig is required to reach the API server.
        var config = await KubeletConfigLoader.LoadAsync(request.ConfigPath, kubeconfigPath, null, cancellationToken, log).ConfigureAwait(false);
        var kubeconfig = request.Context is null
            ? config.Kubeconfig ?? throw new KubeletConfigException("no kubeconfig: the node cannot reach an API server.", kubeconfigPath, category: KubeletErrorKind.NotFound)
            : await KubeconfigLoader.LoadAsync(kubeconfigPath, request.Context, null, cancellationToken).ConfigureAwait(false);
        var options = BuildOptions(config.Configuration, request, log);
        var identity = new ApiIdentity(kubeconfig.Server, UserOf(kubeconfig));
        var certificates = NodeCertificates.Create(kubeconfig, config.Configuration, options, request, log);
        var client = certificates.Client is { } rotating ? ApiClientFactory.CreateClient(kubeconfig, rotating) : ApiClientFactory.CreateClient(kubeconfig);
        certificates.CreateManagers(client, identity, log);
        var endpoint = request.RuntimeEndpoint ?? config.Configuration.ContainerRuntimeEndpoint;
        var runtime = new CriRuntimeClient(endpoint, config.Configuration.RuntimeRequestTimeout);
        return new NodeAgentContext(config, kubeconfig, client, identity, options, runtime, certificates);
    }

    /// <summary>kubelet's LoadClientCert at start: bootstrap when kubelet.conf is missing or its client certificate cannot be used.</summary>
    private static async Task BootstrapIfNeededAsync(NodeAgentRequest request, string kubeconfigPath, string bootstrapPath, IKubeletLog log,
        CancellationToken cancellationToken)
    {
        var result = await new NodeCertificateBootstrap().BootstrapAsync(new CertificateBootstrapOptions
        {
            KubeconfigPath = kubeconfigPath,
            BootstrapKubeconfigPath = bootstrapPath,
            CertificateDirectory = request.CertificateDirectory,
            NodeName = NodeName.Resolve(request.NodeName),
        }, request.BootstrapProgress ?? (p => log.Info(p.Message)), cancellationToken).ConfigureAwait(false);
        log.Info(result.Bootstrapped
            ? $"TLS bootstrap because {result.Reason}: {result.CsrName} issued {result.Subject}, valid until {result.NotAfter:u}."
            : $"{kubeconfigPath} holds a valid client certificate (until {result.NotAfter:u}); no bootstrap needed.");
    }

    public static NodeAgentOptions BuildOptions(KubeletConfiguration c, NodeAgentRequest request, IKubeletLog log)
    {
        var nodeName = NodeName.Resolve(request.NodeName);
        var taints = (c.RegisterWithTaints ?? []).Select(t => new k8s.Models.V1Taint { Key = t.Key, Value = string.IsNullOrEmpty(t.Value) ? null : t.Value, Effect = t.Effect })
            .Concat(request.Taints.Select(NodeAgentOptions.ParseTaint)).ToList();
        var rootDirectory = request.RootDirectory;
        var nodeIp = request.NodeIp ?? new MachineInfoReader().DetectNodeIp();
        if (nodeIp is null) log.Warning("No --node-ip and no address on a non-loopback interface: the node reports no InternalIP.");
        return new NodeAgentOptions
        {
            NodeName = nodeName,
            Labels = LabelRules.Parse(request.Labels),
            RegisterWithTaints = taints,
            NodeIp = nodeIp,
            ProviderId = string.IsNullOrEmpty(c.ProviderId) ? null : c.ProviderId,
            MaxPods = c.MaxPods,
            SystemReserved = c.SystemReserved ?? new Dictionary<string, string>(),
            KubeReserved = c.KubeReserved ?? new Dictionary<string, string>(),
            EvictionHard = c.EvictionHard ?? new Dictionary<string, string>(),
            RootDirectory = rootDirectory,
            KubeletPort = c.Port,
            NodeLeaseDurationSeconds = c.NodeLeaseDurationSeconds,
            NodeStatusUpdateFrequency = c.NodeStatusUpdateFrequency,
            NodeStatusReportFrequency = c.NodeStatusReportFrequency,
        };
    }

    /// <summary>The user the API server will see: the client certificate's CN, or the kubeconfig's user name.</summary>
    private static string UserOf(Kubeconfig kubeconfig)
    {
        try
        {
            using var certificate = ApiRequester.LoadClientCertificate(kubeconfig);
            if (certificate is not null) return certificate.GetNameInfo(X509NameType.SimpleName, false);
        }
        catch (KubeletException)
        {
            // The client factory reports unusable credentials with their own error.
        }
        return kubeconfig.UserName;
    }

    public NodeHeartbeat CreateHeartbeat(TimeProvider? time, IKubeletLog log) =>
        new(Client, Identity, Options, RuntimeHealth, time, log);

    /// <summary>What registration would do now (for -WhatIf), writing nothing.</summary>
    public async Task<NodeRegistrationPlan> PlanRegistrationAsync(IKubeletLog log, CancellationToken cancellationToken)
    {
        var machine = new MachineInfoReader(Options.HostRoot, Options.RootDirectory).Read();
        var health = await RuntimeHealth.GetHealthAsync(cancellationToken).ConfigureAwait(false);
        if (!health.Reachable) log.Warning($"The container runtime is not reachable; the node will register NotReady: {health.Message}");
        var plan = await CreateHeartbeat(null, log).Registration.PlanAsync(machine, health, DateTime.UtcNow, cancellationToken).ConfigureAwait(false);
        return new NodeRegistrationPlan(Options.NodeName, Identity.Server, plan.Created, plan.Changes);
    }

    /// <summary>
    /// Registers or reconciles the Node, retrying while the API server does not answer, for at most
    /// <paramref name="timeout"/>; <paramref name="onRetry"/> hears of each retry (attempt, reason).
    /// </summary>
    public async Task<NodeRegistrationOutcome> RegisterAsync(TimeSpan timeout, Action<int, string>? onRetry, IKubeletLog log, CancellationToken cancellationToken)
    {
        var heartbeat = CreateHeartbeat(null, log);
        heartbeat.OnRegistrationRetry = (attempt, _, reason) => onRetry?.Invoke(attempt, reason);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        NodeRegistrationResult result;
        try
        {
            result = await heartbeat.RegisterWithRetryAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new KubeletException($"The API server {Identity.Server} did not accept the registration of node {Options.NodeName} within {timeout.TotalSeconds:0} s.",
                KubeletErrorKind.Timeout, Identity.Server);
        }
        foreach (var change in result.Changes) log.Info($"Node {Options.NodeName}: {change}.");
        var summary = await GetNodeAsync(Options.NodeName, cancellationToken).ConfigureAwait(false) ?? NodeSummary.From(result.Node, null);
        return new NodeRegistrationOutcome(summary, result.Created, result.Changes);
    }

    /// <summary>
    /// The node heartbeat in the foreground: registers (retrying), tells <paramref name="onRegistered"/>,
    /// then renews the lease and reports status until cancelled; each renewal and report is logged.
    /// </summary>
    public async Task RunHeartbeatAsync(Action<int, string>? onRetry, Action<NodeRegistrationOutcome>? onRegistered, IKubeletLog log, CancellationToken cancellationToken)
    {
        Config.WarnNotInEffect(log);
        var heartbeat = CreateHeartbeat(null, log);
        var name = Options.NodeName;
        heartbeat.OnRegistrationRetry = (attempt, _, reason) => onRetry?.Invoke(attempt, reason);
        heartbeat.Lease.Renewed += lease => log.Info($"Renewed lease {NodeLeaseController.LeaseNamespace}/{name} at {lease.Spec.RenewTime:O}.");
        heartbeat.Status.StatusReported += node => log.Info($"Reported the status of node {name} (resourceVersion {node.Metadata.ResourceVersion}).");
        var registered = await heartbeat.RegisterWithRetryAsync(cancellationToken).ConfigureAwait(false);
        onRegistered?.Invoke(new NodeRegistrationOutcome(NodeSummary.From(registered.Node, null), registered.Created, registered.Changes));
        log.Info($"Node {name} registered with {Identity.Server}; renewing its lease every {heartbeat.Lease.RenewInterval.TotalSeconds:0.#} s, " +
                 $"checking its status every {Options.NodeStatusUpdateFrequency.TotalSeconds:0.#} s.");
        await Task.WhenAll(heartbeat.Lease.RunAsync(cancellationToken), heartbeat.Status.RunAsync(cancellationToken),
            Certificates.RunAsync(cancellationToken)).ConfigureAwait(false);
    }

    /// <summary>The Node and its Lease as the API server has them; null when the node is not registered.</summary>
    public async Task<NodeSummary?> GetNodeAsync(string name, CancellationToken cancellationToken)
    {
        k8s.Models.V1Node node;
        try
        {
            node = await ApiCall.RunAsync(Identity, "get", "nodes", name, () => Client.CoreV1.ReadNodeAsync(name, cancellationToken: cancellationToken), cancellationToken).ConfigureAwait(false);
        }
        catch (KubeletApiException e) when (e.IsNotFound)
        {
            return null;
        }
        k8s.Models.V1Lease? lease = null;
        try
        {
            lease = await ApiCall.RunAsync(Identity, "get", "leases", $"{NodeLeaseController.LeaseNamespace}/{name}",
                () => Client.CoordinationV1.ReadNamespacedLeaseAsync(name, NodeLeaseController.LeaseNamespace, cancellationToken: cancellationToken), cancellationToken).ConfigureAwait(false);
        }
        catch (KubeletApiException e) when (e.IsNotFound || e.Category == KubeletErrorKind.PermissionDenied)
        {
            // No lease yet, or this identity may not read another node's lease.
        }
        return NodeSummary.From(node, lease);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        Certificates.Dispose();
        await _runtimeClient.DisposeAsync().ConfigureAwait(false);
    }
}
