using System.Net;
using System.Security.Cryptography;
using k8s;
using KubeletPS.Core.Api;
using KubeletPS.Core.Certificates.Bootstrap;
using KubeletPS.Core.Configuration.Clientcmd;

namespace KubeletPS.Core.Certificates.Rotation;

/// <summary>A renewed certificate: the CSR that issued it, the dated file it was written to, its validity.</summary>
public sealed record KubeletCertificateRotation(KubeletCertificateKind Kind, string CsrName, string CertificateFile, string CurrentPath,
    string Subject, string SerialNumber, DateTimeOffset NotBefore, DateTimeOffset NotAfter);

/// <summary>
/// client-go's certificate manager (util/certificate/certificate_manager.go) for one of the kubelet's certificates:
/// waits until the rotation deadline (a jittered 70–90 % of the current certificate's lifetime), then sends a CSR for a
/// new EC P-256 key with the current credentials (the bootstrap kubeconfig's when the client certificate has expired),
/// waits up to 15 minutes for it to be issued, writes PAIR-DATE.pem and moves PAIR-current.pem, and swaps the
/// <see cref="RotatingCertificate"/> so the running agent uses it at once. Failures are retried with client-go's
/// back-off (2 s doubling to 32 s, then every 32 s) and each is logged as a warning with the deadline and the expiry.
/// </summary>
public sealed class KubeletCertificateManager
{
    private static readonly TimeSpan[] Backoff = [TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(8), TimeSpan.FromSeconds(16)];
    private static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(32);
    private static readonly TimeSpan LongestDelay = TimeSpan.FromHours(12);

    private readonly KubeletCertificateTemplate _template;
    private readonly KubeletCertificateStore _store;
    private readonly IKubernetes _client;
    private readonly ApiIdentity _identity;
    private readonly IKubeletLog _log;
    private readonly TimeProvider _time;
    private readonly Func<double> _jitter;

    /// <param name="current">The certificate in use, swapped on each rotation; for a serving certificate not yet issued, one is created at the first rotation.</param>
    /// <param name="client">The API client with the node's current credentials (the agent's own client).</param>
    public KubeletCertificateManager(KubeletCertificateTemplate template, string certificateDirectory, RotatingCertificate? current, IKubernetes client,
        ApiIdentity identity, IKubeletLog log, TimeProvider? time = null, Func<double>? jitter = null)
    {
        ArgumentNullException.ThrowIfNull(template);
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(identity);
        ArgumentNullException.ThrowIfNull(log);
        _template = template;
        _store = new KubeletCertificateStore(certificateDirectory, template.PairName);
        Current = current;
        _client = client;
        _identity = identity;
        _log = log;
        _time = time ?? TimeProvider.System;
        _jitter = jitter ?? Random.Shared.NextDouble;
    }

    /// <summary>The certificate in use; null for a serving certificate until the first one is issued.</summary>
    public RotatingCertificate? Current { get; private set; }

    /// <summary>When set, used to request a client certificate once the current one has expired (kubelet --bootstrap-kubeconfig).</summary>
    public string? BootstrapKubeconfigPath { get; init; }

    /// <summary>How long one CSR may wait for approval and issuance (client-go certificateWaitTimeout: 15 minutes).</summary>
    public TimeSpan WaitTimeout { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>The rotation deadline now scheduled, once <see cref="RunAsync"/> has computed it.</summary>
    public DateTimeOffset? Deadline { get; private set; }

    /// <summary>Raised after each rotation, once the new certificate is in use.</summary>
    public event Action<KubeletCertificateRotation>? Rotated;

    /// <summary>Rotates at each deadline until cancelled (then throws OperationCanceledException, as every loop of the agent).</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            var (notBefore, notAfter) = Validity();
            if (notAfter is { } expiry)
            {
                var deadline = CertificateRotationDeadline.Next(notBefore!.Value, expiry, _jitter());
                Deadline = deadline;
                _log.Info($"The {_template.Description} certificate of node {_template.NodeName} expires at {expiry:u}; rotation deadline is {deadline:u}.");
                await DelayUntilAsync(deadline, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                Deadline = _time.GetUtcNow();
                _log.Info($"Node {_template.NodeName} has no {_template.Description} certificate in {_store.Directory}; requesting one.");
            }
            await RotateWithBackoffAsync(cancellationToken).ConfigureAwait(false);
        }
        cancellationToken.ThrowIfCancellationRequested();
    }

    /// <summary>One rotation now: new key, CSR, wait for issuance, write the files, swap the certificate in use.</summary>
    public async Task<KubeletCertificateRotation> RotateAsync(Action<CertificateBootstrapProgress>? progress, CancellationToken cancellationToken)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var requestPem = _template.CreateRequestPem(key);
        var (client, identity, bootstrapPath) = await CredentialsAsync(cancellationToken).ConfigureAwait(false);
        var requested = GenerateName();
        string name = requested, certificatePem;
        try
        {
            progress?.Invoke(new(CertificateBootstrapStage.Requesting, requested,
                $"Sending the certificate signing request {requested} ({_template.SignerName}) for a new key to {identity.Server} as {identity.User}."));
            var csrClient = new CertificateSigningRequestClient(client, identity);
            string uid;
            (name, uid) = await csrClient.RequestAsync(requested, requestPem, _template.SignerName, _template.Usages, cancellationToken).ConfigureAwait(false);
            certificatePem = await csrClient.WaitForCertificateAsync(name, uid, WaitTimeout, progress, cancellationToken).ConfigureAwait(false);
        }
        catch (KubeletApiException e) when (e.StatusCode == HttpStatusCode.Unauthorized)
        {
            var hint = bootstrapPath is not null
                ? $"the bootstrap token in {bootstrapPath} may have expired or been deleted; create a new one (kubeadm token create) and write it into the bootstrap kubeconfig."
                : _template.Kind == KubeletCertificateKind.Client
                    ? "the client certificate may have expired or its CA changed; run Update-KubeletCertificate -BootstrapKubeconfigPath <path> or Join-KubeletCluster."
                    : "the node's client certificate is not accepted; renew it first (Update-KubeletCertificate).";
            throw new CertificateBootstrapException(CertificateBootstrapProblem.Unauthorized,
                $"The API server {identity.Server} did not accept {identity.User} (401 Unauthorized) when requesting a {_template.Description} certificate: {hint}",
                name, bootstrapPath ?? identity.Server, inner: e);
        }
        finally
        {
            if (!ReferenceEquals(client, _client)) client.Dispose();
        }

        using var issued = NodeCertificateBootstrap.VerifyIssued(certificatePem, key, _template.NodeName, name);
        var keyPem = key.ExportECPrivateKeyPem();
        var file = _store.Update(certificatePem, keyPem, _time.GetUtcNow());
        var withKey = ApiRequester.CertificateWithKey(certificatePem, keyPem);
        var closed = 0;
        if (Current is { } current) closed = current.Swap(withKey);
        else Current = new RotatingCertificate(withKey);
        var rotation = new KubeletCertificateRotation(_template.Kind, name, file, _store.CurrentPath, issued.Subject, issued.SerialNumber,
            issued.NotBefore.ToUniversalTime(), issued.NotAfter.ToUniversalTime());
        _log.Info($"Rotated the {_template.Description} certificate of node {_template.NodeName}: {name} issued serial {rotation.SerialNumber}, " +
                  $"valid until {rotation.NotAfter:u}, written to {file}; closed {closed} API connection(s) so they reconnect with it.");
        Rotated?.Invoke(rotation);
        return rotation;
    }

    private async Task RotateWithBackoffAsync(CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await RotateAsync(p => _log.Info(p.Message), cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is KubeletException or IOException or HttpRequestException or OperationCanceledException)
            {
                var delay = attempt < Backoff.Length ? Backoff[attempt] : PollInterval;
                delay += TimeSpan.FromTicks((long)(delay.Ticks * 0.1 * _jitter()));
                var (_, notAfter) = Validity();
                var expiry = notAfter is { } na
                    ? na <= _time.GetUtcNow() ? $"it expired at {na:u}" : $"it expires at {na:u}"
                    : "there is none yet";
                _log.Warning($"Could not rotate the {_template.Description} certificate of node {_template.NodeName} (attempt {attempt + 1}): {e.Message} " +
                             $"Retrying in {delay.TotalSeconds:0} s; the rotation deadline was {Deadline:u} and {expiry}.");
                await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// The current credentials, or for an expired client certificate the bootstrap kubeconfig's (kubelet.go's
    /// clientsetFn: "if we have a valid certificate, use that to fetch CSRs, otherwise use the bootstrap credentials").
    /// </summary>
    private async Task<(IKubernetes Client, ApiIdentity Identity, string? BootstrapPath)> CredentialsAsync(CancellationToken cancellationToken)
    {
        var (_, notAfter) = Validity();
        var expired = _template.Kind == KubeletCertificateKind.Client && notAfter is { } na && na <= _time.GetUtcNow();
        if (!expired || BootstrapKubeconfigPath is null) return (_client, _identity, null);
        var path = Path.GetFullPath(BootstrapKubeconfigPath);
        var bootstrap = await KubeconfigLoader.LoadAsync(path, null, null, cancellationToken).ConfigureAwait(false);
        _log.Info($"The client certificate of node {_template.NodeName} has expired; requesting a new one with {path}.");
        return (ApiClientFactory.CreateClient(bootstrap), new ApiIdentity(bootstrap.Server, $"the credentials of {path}"), path);
    }

    private (DateTimeOffset? NotBefore, DateTimeOffset? NotAfter) Validity()
    {
        if (Current?.Current is not { } certificate) return (null, null);
        return (certificate.NotBefore.ToUniversalTime(), certificate.NotAfter.ToUniversalTime());
    }

    /// <summary>Waits in steps, so a deadline months away needs no single timer that long.</summary>
    private async Task DelayUntilAsync(DateTimeOffset deadline, CancellationToken cancellationToken)
    {
        while (deadline - _time.GetUtcNow() is { Ticks: > 0 } remaining)
        {
            await Task.Delay(remaining < LongestDelay ? remaining : LongestDelay, _time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>metadata.generateName "csr-" as client-go's csr.RequestCertificate sends it, with the suffix made here.</summary>
    private static string GenerateName()
    {
        const string alphabet = "bcdfghjklmnpqrstvwxz2456789";
        return "csr-" + string.Create(5, 0, (span, _) =>
        {
            for (var i = 0; i < span.Length; i++) span[i] = alphabet[RandomNumberGenerator.GetInt32(alphabet.Length)];
        });
    }
}
