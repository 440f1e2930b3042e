namespace KubeletPS.Core.Configuration.Clientcmd;

// The kubeconfig file format (client-go tools/clientcmd/api/v1), as written by kubeadm and
// kubectl. Only the reader sees these; callers get the resolved <see cref="Kubeconfig"/>.

internal sealed class KubeconfigFile
{
    [ConfigField("apiVersion")] public string ApiVersion { get; set; } = "";
    [ConfigField("kind")] public string Kind { get; set; } = "";
    [ConfigField("preferences")] public object? Preferences { get; set; }
    [ConfigField("clusters")] public List<KubeconfigNamedCluster>? Clusters { get; set; }
    [ConfigField("users")] public List<KubeconfigNamedUser>? Users { get; set; }
    [ConfigField("contexts")] public List<KubeconfigNamedContext>? Contexts { get; set; }
    [ConfigField("current-context")] public string CurrentContext { get; set; } = "";
    [ConfigField("extensions")] public object? Extensions { get; set; }
}

internal sealed class KubeconfigNamedCluster
{
    [ConfigField("name")] public string Name { get; set; } = "";
    [ConfigField("cluster")] public KubeconfigCluster Cluster { get; set; } = new();
}

internal sealed class KubeconfigCluster
{
    [ConfigField("server")] public string Server { get; set; } = "";
    [ConfigField("tls-server-name")] public string TlsServerName { get; set; } = "";
    [ConfigField("insecure-skip-tls-verify")] public bool InsecureSkipTlsVerify { get; set; }
    [ConfigField("certificate-authority")] public string CertificateAuthority { get; set; } = "";
    [ConfigField("certificate-authority-data")] public byte[]? CertificateAuthorityData { get; set; }
    [ConfigField("proxy-url")] public string ProxyUrl { get; set; } = "";
    [ConfigField("disable-compression")] public bool DisableCompression { get; set; }
    [ConfigField("extensions")] public object? Extensions { get; set; }
}

internal sealed class KubeconfigNamedUser
{
    [ConfigField("name")] public string Name { get; set; } = "";
    [ConfigField("user")] public KubeconfigUser User { get; set; } = new();
}

internal sealed class KubeconfigUser
{
    [ConfigField("client-certificate")] public string ClientCertificate { get; set; } = "";
    [ConfigField("client-certificate-data")] public byte[]? ClientCertificateData { get; set; }
    [ConfigField("client-key")] public string ClientKey { get; set; } = "";
    [ConfigField("client-key-data", Secret = true)] public byte[]? ClientKeyData { get; set; }
    [ConfigField("token", Secret = true)] public string Token { get; set; } = "";
    [ConfigField("tokenFile")] public string TokenFile { get; set; } = "";
    [ConfigField("as")] public string Impersonate { get; set; } = "";
    [ConfigField("as-uid")] public string ImpersonateUid { get; set; } = "";
    [ConfigField("as-groups")] public List<string>? ImpersonateGroups { get; set; }
    [ConfigField("as-user-extra")] public object? ImpersonateUserExtra { get; set; }
    [ConfigField("username")] public string Username { get; set; } = "";
    [ConfigField("password", Secret = true)] public string Password { get; set; } = "";
    [ConfigField("auth-provider")] public object? AuthProvider { get; set; }
    [ConfigField("exec")] public object? Exec { get; set; }
    [ConfigField("extensions")] public object? Extensions { get; set; }
}

internal sealed class KubeconfigNamedContext
{
    [ConfigField("name")] public string Name { get; set; } = "";
    [ConfigField("context")] public KubeconfigContext Context { get; set; } = new();
}

internal sealed class KubeconfigContext
{
    [ConfigField("cluster")] public string Cluster { get; set; } = "";
    [ConfigField("user")] public string User { get; set; } = "";
    [ConfigField("namespace")] public string Namespace { get; set; } = "";
    [ConfigField("extensions")] public object? Extensions { get; set; }
}
