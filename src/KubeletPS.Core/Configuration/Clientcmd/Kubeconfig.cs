namespace KubeletPS.Core.Configuration.Clientcmd;

/// <summary>
/// One context of a kubeconfig resolved to what a client needs: the server, how to trust it
/// and how to authenticate. File paths are resolved (relative to the kubeconfig's folder,
/// under the root for a mounted node image). Key material and tokens are held only for
/// <see cref="ApiClientFactory"/> and never appear in public properties or ToString: callers
/// see where a key comes from (<see cref="ClientKeySource"/>), not the key.
/// </summary>
public sealed class Kubeconfig
{
    /// <summary>What the *Source properties say for material embedded in the kubeconfig.</summary>
    public const string Embedded = "embedded";

    internal Kubeconfig(string path, string contextName, string clusterName, string userName)
    {
        Path = path;
        ContextName = contextName;
        ClusterName = clusterName;
        UserName = userName;
    }

    public string Path { get; }
    public string ContextName { get; }
    public string ClusterName { get; }
    public string UserName { get; }
    public string Namespace { get; internal init; } = "";
    public string Server { get; internal init; } = "";
    public string TlsServerName { get; internal init; } = "";
    public string ProxyUrl { get; internal init; } = "";
    public bool InsecureSkipTlsVerify { get; internal init; }

    /// <summary>The CA bundle's file (resolved), when the kubeconfig names one.</summary>
    public string? CertificateAuthorityFile { get; internal init; }

    /// <summary>The PEM CA bundle embedded in the kubeconfig (certificates are public).</summary>
    public byte[]? CertificateAuthorityData { get; internal init; }

    public string? ClientCertificateFile { get; internal init; }

    /// <summary>The PEM client certificate embedded in the kubeconfig (public, unlike its key).</summary>
    public byte[]? ClientCertificateData { get; internal init; }

    public string? ClientKeyFile { get; internal init; }
    public string? TokenFile { get; internal init; }

    /// <summary>The user authenticates with an exec plugin or an auth provider this engine does not run.</summary>
    public string? ExternalAuthentication { get; internal init; }

    internal byte[]? ClientKeyData { get; init; }
    internal string? Token { get; init; }

    public bool HasToken => !string.IsNullOrEmpty(Token) || !string.IsNullOrEmpty(TokenFile);

    /// <summary>The CA's file path, "embedded", or null when the kubeconfig names no CA.</summary>
    public string? CertificateAuthoritySource => CertificateAuthorityData is not null ? Embedded : CertificateAuthorityFile;

    public string? ClientCertificateSource => ClientCertificateData is not null ? Embedded : ClientCertificateFile;

    public string? ClientKeySource => ClientKeyData is not null ? Embedded : ClientKeyFile;

    public string? TokenSource => !string.IsNullOrEmpty(Token) ? Embedded : TokenFile;

    public override string ToString() => $"{ContextName} ({UserName}@{Server})";
}
