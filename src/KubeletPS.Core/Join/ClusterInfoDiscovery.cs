using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using KubeletPS.Core.Api;
using KubeletPS.Core.Configuration.Clientcmd;
using KubeletPS.Core.Configuration.Yaml;

namespace KubeletPS.Core.Join;

/// <summary>What token discovery is given (kubeadm join's JoinConfiguration.discovery.bootstrapToken).</summary>
public sealed record ClusterInfoDiscoveryOptions
{
    /// <summary>The API server endpoint, host:port (an https:// URL is accepted too).</summary>
    public required string ApiServerEndpoint { get; init; }
    public required BootstrapTokenString Token { get; init; }
    /// <summary>--discovery-token-ca-cert-hash values; at least one unless <see cref="UnsafeSkipCAVerification"/>.</summary>
    public IReadOnlyList<string> CACertHashes { get; init; } = [];
    /// <summary>--discovery-token-unsafe-skip-ca-verification: trust the signed cluster-info without pinning its CA.</summary>
    public bool UnsafeSkipCAVerification { get; init; }
    /// <summary>How long to keep asking for a signed cluster-info (kubeadm: timeouts.discovery, 5 minutes).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(5);
    /// <summary>Between attempts (kubeadm: DiscoveryRetryInterval, 5 s); never more than <see cref="Timeout"/>.</summary>
    public TimeSpan RetryInterval { get; init; } = TimeSpan.FromSeconds(5);
}

/// <summary>The cluster as discovery validated it: the server and CA from the signed cluster-info ConfigMap.</summary>
public sealed record DiscoveredCluster(
    string Endpoint,
    string Server,
    string CertificateAuthorityPem,
    string CACertHash,
    string CertificateAuthoritySubject,
    bool CAPinned);

/// <summary>
/// kubeadm's token discovery (cmd/kubeadm/app/discovery/token RetrieveValidatedConfigInfo): read the cluster-info
/// ConfigMap in kube-public anonymously over TLS that is not verified yet (the CA is what we are about to learn), until
/// it carries a JWS signature for the token id; check that signature with the token secret; parse the one cluster of
/// its kubeconfig; pin the cluster CA's public key to one of the --discovery-token-ca-cert-hash values; then read
/// cluster-info again over TLS verified against that CA and require the same kubeconfig.
/// </summary>
public sealed class ClusterInfoDiscovery(TimeProvider? time = null)
{
    public const string ClusterInfoPath = "/api/v1/namespaces/kube-public/configmaps/cluster-info";
    public const string KubeconfigKey = "kubeconfig";
    public const string JwsSignatureKeyPrefix = "jws-kubeconfig-";
    private const string Where = "the cluster-info ConfigMap";
    /// <summary>What is read of cluster-info before its signature is checked: a kubeconfig with a CA bundle and a few JWS signatures is a few KiB.</summary>
    public const long MaxClusterInfoBytes = 1024 * 1024;

    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public async Task<DiscoveredCluster> DiscoverAsync(ClusterInfoDiscoveryOptions options, Action<string>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var endpoint = NormalizeEndpoint(options.ApiServerEndpoint);
        var pins = new PublicKeyPins();
        pins.Allow([.. options.CACertHashes]);
        if (pins.IsEmpty && !options.UnsafeSkipCAVerification)
        {
            throw new KubeletException("Using token-based discovery without a CA certificate hash is unsafe: give -CACertHash sha256:<hex> " +
                "(kubeadm token create --print-join-command prints it), or -UnsafeSkipCAVerification to trust the cluster-info signature alone.",
                KubeletErrorKind.InvalidArgument, "CACertHash");
        }
        var token = options.Token;

        progress?.Invoke($"Requesting {Where} from {endpoint} (TLS not verified yet) until it is signed for token {token.Masked}.");
        var insecure = await GetClusterInfoAsync(Connection(endpoint, null), token, options, cancellationToken).ConfigureAwait(false);
        var kubeconfigText = ValidateClusterInfoToken(insecure, token);
        var (server, caPem) = ParseSingleCluster(kubeconfigText);
        var cas = ParseCertificateAuthority(caPem);
        try
        {
            var hash = PublicKeyPins.Hash(cas[0]);
            var subject = cas[0].Subject;
            if (pins.IsEmpty)
            {
                progress?.Invoke($"The cluster-info signature is valid and no CA pin was given (-UnsafeSkipCAVerification): trusting CA {subject} ({hash}).");
                return new DiscoveredCluster(endpoint, server, caPem, hash, subject, CAPinned: false);
            }
            if (pins.CheckAny(cas) is { } mismatch)
            {
                throw new JoinException(JoinProblem.CACertHashMismatch, $"cluster CA found in cluster-info ConfigMap is invalid: {mismatch}", endpoint);
            }
            progress?.Invoke($"CA {subject} matches the pinned hash; requesting {Where} again over TLS verified against it.");
            var secure = await GetClusterInfoAsync(Connection(endpoint, caPem), token, options, cancellationToken).ConfigureAwait(false);
            if (!CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(Data(secure, KubeconfigKey) ?? ""), Encoding.UTF8.GetBytes(kubeconfigText)))
            {
                throw new JoinException(JoinProblem.ServerNotTrusted,
                    "the second kubeconfig from the cluster-info ConfigMap (using validated TLS) was different from the first", endpoint);
            }
            return new DiscoveredCluster(endpoint, server, caPem, hash, subject, CAPinned: true);
        }
        finally
        {
            foreach (var ca in cas) ca.Dispose();
        }
    }

    /// <summary>host:port → https://host:port; an https URL is kept without a trailing slash.</summary>
    public static string NormalizeEndpoint(string endpoint)
    {
        var text = (endpoint ?? "").Trim();
        var url = text.Contains("://", StringComparison.Ordinal) ? text : "https://" + text;
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttps || uri.Host.Length == 0
            || uri.AbsolutePath != "/" || uri.Query.Length > 0 || uri.UserInfo.Length > 0)
        {
            throw new KubeletException($"The API server endpoint \"{endpoint}\" is not host:port (for example 192.168.56.10:6443).",
                KubeletErrorKind.InvalidArgument, "Server");
        }
        return uri.GetLeftPart(UriPartial.Authority);
    }

    private static Kubeconfig Connection(string endpoint, string? caPem) =>
        new("cluster-info discovery (" + endpoint + ")", "", "kubernetes", "token-bootstrap-client")
        {
            Server = endpoint,
            InsecureSkipTlsVerify = caPem is null,
            CertificateAuthorityData = caPem is null ? null : Encoding.ASCII.GetBytes(caPem),
        };

    /// <summary>getClusterInfo: poll until the ConfigMap has a signature for the token id, or the timeout passes.</summary>
    private async Task<JsonElement> GetClusterInfoAsync(Kubeconfig connection, BootstrapTokenString token, ClusterInfoDiscoveryOptions options,
        CancellationToken cancellationToken)
    {
        var interval = options.RetryInterval > options.Timeout ? options.Timeout : options.RetryInterval;
        var deadline = _time.GetUtcNow() + options.Timeout;
        JoinException lastError;
        while (true)
        {
            try
            {
                var response = await ApiRequester.SendAsync(connection, new ApiRequestOptions { Path = ClusterInfoPath, Anonymous = true, MaxResponseBytes = MaxClusterInfoBytes }, cancellationToken)
                    .ConfigureAwait(false);
                if (!response.IsSuccess)
                {
                    lastError = new JoinException(JoinProblem.DiscoveryFailed,
                        $"failed to request the cluster-info ConfigMap: {response.StatusMessage ?? response.ReasonPhrase} ({response.StatusCode})", connection.Server);
                }
                else
                {
                    var configMap = ParseConfigMap(response.Body);
                    if (Data(configMap, JwsSignatureKeyPrefix + token.Id) is not null) return configMap;
                    lastError = new JoinException(JoinProblem.TokenNotSigned,
                        $"could not find a JWS signature in the cluster-info ConfigMap for token ID \"{token.Id}\": " +
                        $"token id \"{token.Id}\" is invalid for this cluster or it has expired. Use \"kubeadm token create\" on the control-plane node to create a new valid token",
                        token.Masked);
                }
            }
            catch (KubeletApiException e) when (e.Category == KubeletErrorKind.Security)
            {
                // Verified TLS failing is not a reason to wait: the server is not the one the pinned CA vouches for.
                throw new JoinException(JoinProblem.ServerNotTrusted, $"failed to request the cluster-info ConfigMap over TLS verified against the pinned CA: {e.Message}",
                    connection.Server, e);
            }
            catch (KubeletApiException e) when (e.Category == KubeletErrorKind.InvalidData)
            {
                // Larger than any kubeadm cluster-info: not worth asking again of a server that sends this (before any trust in it).
                throw new JoinException(JoinProblem.ClusterInfoInvalid, $"refusing the cluster-info ConfigMap: {e.Message}", connection.Server, e);
            }
            catch (KubeletApiException e)
            {
                lastError = new JoinException(JoinProblem.DiscoveryFailed, $"failed to request the cluster-info ConfigMap: {e.Message}", connection.Server, e);
            }
            var remaining = deadline - _time.GetUtcNow();
            if (remaining <= TimeSpan.Zero) throw lastError;
            await Task.Delay(interval < remaining ? interval : remaining, _time, cancellationToken).ConfigureAwait(false);
        }
    }

    private static JsonElement ParseConfigMap(string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            return document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new JoinException(JoinProblem.ClusterInfoInvalid, $"the cluster-info ConfigMap is not JSON: {e.Message}", Where, e);
        }
    }

    private static string? Data(JsonElement configMap, string key) =>
        configMap.ValueKind == JsonValueKind.Object && configMap.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Object
        && data.TryGetProperty(key, out var value) && value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } s ? s : null;

    /// <summary>validateClusterInfoToken: the kubeconfig and the token's detached JWS over it.</summary>
    private static string ValidateClusterInfoToken(JsonElement clusterInfo, BootstrapTokenString token)
    {
        var kubeconfig = Data(clusterInfo, KubeconfigKey)
            ?? throw new JoinException(JoinProblem.ClusterInfoInvalid,
                "there is no kubeconfig key in the cluster-info ConfigMap. This API Server isn't set up for token bootstrapping, can't connect", Where);
        var signature = Data(clusterInfo, JwsSignatureKeyPrefix + token.Id)
            ?? throw new JoinException(JoinProblem.TokenNotSigned,
                $"token id \"{token.Id}\" is invalid for this cluster or it has expired. Use \"kubeadm token create\" on the control-plane node to create a new valid token", token.Masked);
        if (!DetachedJws.IsValid(signature, kubeconfig, token.Id, token.Secret))
        {
            throw new JoinException(JoinProblem.SignatureInvalid, "failed to verify JWS signature of received cluster info object, can't trust this API Server", Where);
        }
        return kubeconfig;
    }

    /// <summary>The single cluster of the cluster-info kubeconfig: its server and its CA bundle (PEM).</summary>
    private static (string Server, string CaPem) ParseSingleCluster(string kubeconfigText)
    {
        const string file = "the kubeconfig in the cluster-info ConfigMap";
        KubeconfigFile parsed;
        try
        {
            var reader = new YamlObjectReader(file);
            parsed = reader.Read<KubeconfigFile>(YamlObjectReader.LoadMapping(file, kubeconfigText));
        }
        catch (KubeletConfigException e)
        {
            throw new JoinException(JoinProblem.ClusterInfoInvalid, $"couldn't parse the kubeconfig file in the cluster-info ConfigMap: {e.Message}", Where, e);
        }
        var clusters = parsed.Clusters ?? [];
        if (clusters.Count != 1)
        {
            throw new JoinException(JoinProblem.ClusterInfoInvalid,
                $"malformed kubeconfig in the cluster-info ConfigMap: expected a single cluster, but it had {clusters.Count}", Where);
        }
        var cluster = clusters[0].Cluster;
        if (string.IsNullOrEmpty(cluster.Server) || cluster.CertificateAuthorityData is not { Length: > 0 } ca)
        {
            throw new JoinException(JoinProblem.ClusterInfoInvalid,
                "malformed kubeconfig in the cluster-info ConfigMap: its cluster needs a server and certificate-authority-data", Where);
        }
        return (cluster.Server, Encoding.ASCII.GetString(ca));
    }

    private static X509Certificate2[] ParseCertificateAuthority(string caPem)
    {
        var collection = new X509Certificate2Collection();
        try
        {
            collection.ImportFromPem(caPem);
        }
        catch (CryptographicException e)
        {
            throw new JoinException(JoinProblem.ClusterInfoInvalid, $"failed to parse cluster CA from the cluster-info ConfigMap: {e.Message}", Where, e);
        }
        if (collection.Count == 0)
            throw new JoinException(JoinProblem.ClusterInfoInvalid, "failed to parse cluster CA from the cluster-info ConfigMap: data does not contain any valid RSA or ECDSA certificates", Where);
        return [.. collection];
    }
}
