using KubeletPS.Core.Configuration;

namespace KubeletPS.Core.Runtime.Remote;

/// <summary>
/// Which runtime socket a command talks to and with what deadline: an endpoint given
/// explicitly wins; otherwise the kubelet configuration's containerRuntimeEndpoint and
/// runtimeRequestTimeout, as the kubelet on this node would use them.
/// </summary>
public sealed record RuntimeConnection(string Endpoint, TimeSpan RequestTimeout)
{
    /// <summary>
    /// Resolves the connection. A config file given must exist; without one the node's
    /// /var/lib/kubelet/config.yaml is read when present, else kubelet's defaults apply.
    /// The kubeconfig is never read: talking to the runtime needs no API server.
    /// </summary>
    public static async Task<RuntimeConnection> ResolveAsync(string? endpoint, string? configPath,
        CancellationToken cancellationToken = default, IKubeletLog? log = null)
    {
        log ??= NullKubeletLog.Instance;
        KubeletConfiguration configuration;
        if (configPath is null && !File.Exists(KubeletConfigLoader.DefaultConfigPath))
        {
            if (endpoint is null) log.Info($"No kubelet configuration file at '{KubeletConfigLoader.DefaultConfigPath}': kubelet's default runtime endpoint applies.");
            configuration = KubeletConfigurationFile.Defaults();
        }
        else if (endpoint is not null && configPath is null)
        {
            // The endpoint is all the config would give; a broken node config must not stop an explicit endpoint.
            configuration = KubeletConfigurationFile.Defaults();
        }
        else
        {
            var file = configPath ?? KubeletConfigLoader.DefaultConfigPath;
            log.Info($"Reading the kubelet configuration '{file}' for the container runtime endpoint.");
            (configuration, var warnings) = await KubeletConfigurationFile.LoadAsync(file, null, cancellationToken).ConfigureAwait(false);
            foreach (var warning in warnings) log.Warning(warning.ToString());
        }

        var resolved = RuntimeEndpoint.Normalize(endpoint ?? configuration.ContainerRuntimeEndpoint);
        log.Info($"Container runtime endpoint {resolved}, request timeout {configuration.RuntimeRequestTimeout}.");
        return new RuntimeConnection(resolved, configuration.RuntimeRequestTimeout);
    }

    public CriRuntimeClient CreateClient() => new(Endpoint, RequestTimeout);
}
