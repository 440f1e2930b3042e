using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.RegularExpressions;
using KubeletPS.Core.Api;
using KubeletPS.Core.Certificates.Rotation;
using KubeletPS.Core.Configuration;
using KubeletPS.Core.Configuration.Clientcmd;

namespace KubeletPS.Core.Certificates.Bootstrap;

/// <summary>What TLS bootstrap is asked to do (kubelet's --kubeconfig, --bootstrap-kubeconfig, --cert-dir and node name).</summary>
public sealed record CertificateBootstrapOptions
{
    public string KubeconfigPath { get; init; } = KubeletConfigLoader.DefaultKubeconfigPath;
    public required string BootstrapKubeconfigPath { get; init; }
    public string CertificateDirectory { get; init; } = KubeletConfigurationDefaults.DefaultCertificateDirectory;
    public required string NodeName { get; init; }
    /// <summary>Bootstrap even when kubelet.conf holds a valid client certificate.</summary>
    public bool Force { get; init; }
    /// <summary>How long to wait for approval and issuance (kubelet: 3600 s).</summary>
    public TimeSpan WaitTimeout { get; init; } = TimeSpan.FromSeconds(3600);
}

/// <summary>What bootstrap did: kept a valid kubelet.conf, or obtained a certificate through the named CSR.</summary>
public sealed record CertificateBootstrapResult(
    bool Bootstrapped,
    string Reason,
    string KubeconfigPath,
    string? CertificatePath,
    string? CertificateFile,
    string? CsrName,
    string? Subject,
    DateTimeOffset? NotBefore,
    DateTimeOffset? NotAfter);

/// <summary>
/// kubelet's TLS bootstrap (pkg/kubelet/certificate/bootstrap LoadClientCert): when kubelet.conf is missing or its
/// client certificate is unusable or expired, use the bootstrap kubeconfig (token or client certificate) to send a
/// node client CSR for a new EC P-256 key, wait for it to be approved and issued, store certificate and key in
/// the certificate directory (kubelet-client-current.pem) and write kubelet.conf pointing at it.
/// </summary>
public sealed partial class NodeCertificateBootstrap(TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    [GeneratedRegex("^([a-z0-9]{6})\\.[a-z0-9]{16}$")]
    private static partial Regex BootstrapToken();

    /// <summary>isClientConfigStillValid: null when kubelet.conf exists and every certificate it presents is unexpired, else why not.</summary>
    public async Task<string?> WhyBootstrapIsNeededAsync(string kubeconfigPath, CancellationToken cancellationToken)
    {
        if (!File.Exists(kubeconfigPath)) return $"{kubeconfigPath} does not exist";
        Kubeconfig kubeconfig;
        try
        {
            kubeconfig = await KubeconfigLoader.LoadAsync(kubeconfigPath, null, null, cancellationToken).ConfigureAwait(false);
            using var withKey = ApiRequester.LoadClientCertificate(kubeconfig);
            if (withKey is null) return $"{kubeconfigPath} names no client certificate";
        }
        catch (KubeletException e)
        {
            return $"{kubeconfigPath} cannot be used: {e.Message}";
        }
        var pem = kubeconfig.ClientCertificateData is { } data ? Encoding.ASCII.GetString(data) : ApiRequester.ReadFile(kubeconfig.ClientCertificateFile!, "client certificate", "client-certificate", kubeconfig);
        var certificates = new X509Certificate2Collection();
        certificates.ImportFromPem(pem);
        var now = _time.GetUtcNow();
        foreach (var certificate in certificates)
        {
            if (now > certificate.NotAfter.ToUniversalTime())
                return $"part of the existing client certificate in {kubeconfigPath} ({kubeconfig.ClientCertificateSource}) is expired: {certificate.NotAfter.ToUniversalTime():u}";
        }
        return null;
    }

    public async Task<CertificateBootstrapResult> BootstrapAsync(CertificateBootstrapOptions options, Action<CertificateBootstrapProgress>? progress,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var kubeconfigPath = Path.GetFullPath(options.KubeconfigPath);
        var store = new KubeletCertificateStore(options.CertificateDirectory);
        progress?.Invoke(new(CertificateBootstrapStage.CheckingCurrent, null, $"Checking the client certificate of {kubeconfigPath}."));
        var why = await WhyBootstrapIsNeededAsync(kubeconfigPath, cancellationToken).ConfigureAwait(false);
        if (why is null && !options.Force)
            return await KeptAsync(kubeconfigPath, cancellationToken).ConfigureAwait(false);
        why ??= "-Force was given";

        var bootstrapPath = Path.GetFullPath(options.BootstrapKubeconfigPath);
        var bootstrap = await KubeconfigLoader.LoadAsync(bootstrapPath, null, null, cancellationToken).ConfigureAwait(false);
        var identity = new ApiIdentity(bootstrap.Server, DescribeUser(bootstrap));

        progress?.Invoke(new(CertificateBootstrapStage.CreatingKey, null, $"Bootstrapping because {why}; preparing the node's private key."));
        using var key = LoadOrCreatePendingKey(store.PendingKeyPath);
        var requestPem = NodeClientCertificateRequest.CreatePem(key, options.NodeName);
        var name = NodeClientCertificateRequest.DigestedName(key.ExportSubjectPublicKeyInfo(), options.NodeName);

        progress?.Invoke(new(CertificateBootstrapStage.Requesting, name, $"Sending the certificate signing request {name} to {bootstrap.Server} as {identity.User}."));
        using var client = ApiClientFactory.CreateClient(bootstrap);
        var csrClient = new CertificateSigningRequestClient(client, identity);
        string certificatePem;
        try
        {
            var (csrName, uid) = await csrClient.RequestAsync(name, requestPem, NodeClientCertificateRequest.SignerName, NodeClientCertificateRequest.Usages,
                cancellationToken).ConfigureAwait(false);
            name = csrName;
            certificatePem = await csrClient.WaitForCertificateAsync(csrName, uid, options.WaitTimeout, progress, cancellationToken).ConfigureAwait(false);
        }
        catch (KubeletApiException e) when (e.StatusCode == HttpStatusCode.Unauthorized)
        {
            throw new CertificateBootstrapException(CertificateBootstrapProblem.Unauthorized,
                $"The API server {bootstrap.Server} did not accept {identity.User} from {bootstrapPath} (401 Unauthorized): " +
                "a bootstrap token may have expired or been deleted; create a new one (kubeadm token create) and write it into the bootstrap kubeconfig.",
                null, bootstrapPath, inner: e);
        }
        catch (KubeletApiException e) when (e.StatusCode == HttpStatusCode.Forbidden)
        {
            throw new CertificateBootstrapException(CertificateBootstrapProblem.Forbidden,
                $"{identity.User} from {bootstrapPath} may not create certificate signing requests: {e.Message}", name, bootstrapPath, inner: e);
        }

        progress?.Invoke(new(CertificateBootstrapStage.Writing, name, $"The certificate signing request {name} is issued; writing {store.CurrentPath} and {kubeconfigPath}."));
        using var issued = VerifyIssued(certificatePem, key, options.NodeName, name);
        var file = store.Update(certificatePem, key.ExportECPrivateKeyPem(), _time.GetUtcNow());
        File.Delete(store.PendingKeyPath);
        KubeletClientKubeconfig.Write(kubeconfigPath, bootstrap, store.CurrentPath);
        progress?.Invoke(new(CertificateBootstrapStage.Done, name, $"Wrote {kubeconfigPath} for {issued.Subject}, valid until {issued.NotAfter.ToUniversalTime():u}."));
        return new CertificateBootstrapResult(true, why, kubeconfigPath, store.CurrentPath, file, name, issued.Subject,
            issued.NotBefore.ToUniversalTime(), issued.NotAfter.ToUniversalTime());
    }

    private static async Task<CertificateBootstrapResult> KeptAsync(string kubeconfigPath, CancellationToken cancellationToken)
    {
        var kubeconfig = await KubeconfigLoader.LoadAsync(kubeconfigPath, null, null, cancellationToken).ConfigureAwait(false);
        using var certificate = ApiRequester.LoadClientCertificate(kubeconfig)!;
        return new CertificateBootstrapResult(false, "the current client certificate is valid", kubeconfigPath, kubeconfig.ClientCertificateFile, null, null,
            certificate.Subject, certificate.NotBefore.ToUniversalTime(), certificate.NotAfter.ToUniversalTime());
    }

    /// <summary>Who the bootstrap kubeconfig authenticates as, for messages: a token is named by its id only, never its secret.</summary>
    private static string DescribeUser(Kubeconfig bootstrap)
    {
        if (bootstrap.ClientCertificateData is not null || bootstrap.ClientCertificateFile is not null)
        {
            using var certificate = ApiRequester.LoadClientCertificate(bootstrap);
            return $"client certificate {certificate?.Subject}";
        }
        if (bootstrap.HasToken)
        {
            var token = !string.IsNullOrEmpty(bootstrap.Token) ? bootstrap.Token : ApiRequester.ReadFile(bootstrap.TokenFile!, "token", "tokenFile", bootstrap).Trim();
            return BootstrapToken().Match(token) is { Success: true } m
                ? $"bootstrap token \"{m.Groups[1].Value}\" (user system:bootstrap:{m.Groups[1].Value})"
                : $"the token of user \"{bootstrap.UserName}\"";
        }
        return "system:anonymous";
    }

    /// <summary>
    /// keyutil.LoadOrGenerateKeyFile: reuse the key of an earlier attempt so its CSR is found again; else a new P-256 key.
    /// Unlike LoadOrGenerateKeyFile, a leftover that group or others could read (or that is a symlink) is not trusted to
    /// be secret and is replaced.
    /// </summary>
    private static ECDsa LoadOrCreatePendingKey(string path)
    {
        var key = ECDsa.Create();
        var info = new FileInfo(path);
        var ownerOnly = OperatingSystem.IsWindows()
            || (info.LinkTarget is null && (info.Exists ? info.UnixFileMode & ~(UnixFileMode.UserRead | UnixFileMode.UserWrite) : 0) == 0);
        if (info.Exists && ownerOnly)
        {
            try
            {
                key.ImportFromPem(File.ReadAllText(path));
                if (key.KeySize == 256) return key;
            }
            catch (Exception e) when (e is CryptographicException or ArgumentException)
            {
                // An unreadable leftover is replaced, as LoadOrGenerateKeyFile does.
            }
        }
        key.Dispose();
        key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        if (info.LinkTarget is not null) File.Delete(path); // replace the link itself, never write through it
        KubeletCertificateStore.WritePrivateFileAtomically(path, key.ExportECPrivateKeyPem());
        return key;
    }

    /// <summary>The issued certificate must be for our key and node, or it is not stored.</summary>
    internal static X509Certificate2 VerifyIssued(string certificatePem, ECDsa key, string nodeName, string csrName)
    {
        X509Certificate2 certificate;
        try
        {
            certificate = X509Certificate2.CreateFromPem(certificatePem);
        }
        catch (CryptographicException e)
        {
            throw new CertificateBootstrapException(CertificateBootstrapProblem.InvalidCertificate,
                $"The certificate issued for {csrName} is not a PEM certificate ({e.GetType().Name}).", csrName, null, inner: e);
        }
        var expectedName = NodeClientCertificateRequest.CommonName(nodeName);
        if (!certificate.PublicKey.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(key.ExportSubjectPublicKeyInfo())
            || certificate.GetNameInfo(X509NameType.SimpleName, false) != expectedName)
        {
            var subject = certificate.Subject;
            certificate.Dispose();
            throw new CertificateBootstrapException(CertificateBootstrapProblem.InvalidCertificate,
                $"The certificate issued for {csrName} ({subject}) is not for this node's key and name {expectedName}.", csrName, null);
        }
        return certificate;
    }
}
