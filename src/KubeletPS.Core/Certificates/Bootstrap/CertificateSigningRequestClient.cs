using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using k8s;
using k8s.Models;
using KubeletPS.Core.Api;

namespace KubeletPS.Core.Certificates.Bootstrap;

/// <summary>A step of TLS bootstrap, for progress display.</summary>
public enum CertificateBootstrapStage { CheckingCurrent, CreatingKey, Requesting, WaitingForApproval, WaitingForIssuance, Writing, Done }

/// <summary>Progress of TLS bootstrap: the stage, the CSR once it exists, and a sentence to show.</summary>
public sealed record CertificateBootstrapProgress(CertificateBootstrapStage Stage, string? CsrName, string Message);

/// <summary>
/// client-go's util/certificate/csr: RequestCertificate (create the CSR; when one of that name exists, reuse it if it
/// is for the same key, subject and signer) and WaitForCertificate (list and watch the CSR by name until it is approved
/// and issued, or denied, failed, deleted or replaced).
/// </summary>
public sealed class CertificateSigningRequestClient(IKubernetes client, ApiIdentity identity)
{
    /// <summary>Creates the CSR or reuses a compatible one; returns its name and UID.</summary>
    public async Task<(string Name, string Uid)> RequestAsync(string name, string requestPem, string signerName, IReadOnlyList<string> usages,
        CancellationToken cancellationToken)
    {
        var csr = new V1CertificateSigningRequest
        {
            ApiVersion = "certificates.k8s.io/v1",
            Kind = "CertificateSigningRequest",
            Metadata = new V1ObjectMeta { Name = name },
            Spec = new V1CertificateSigningRequestSpec { Request = Encoding.UTF8.GetBytes(requestPem), SignerName = signerName, Usages = usages.ToList() },
        };
        try
        {
            var created = await ApiCall.RunAsync(identity, "create", "certificatesigningrequests", name,
                () => client.CertificatesV1.CreateCertificateSigningRequestAsync(csr, cancellationToken: cancellationToken), cancellationToken).ConfigureAwait(false);
            return (created.Metadata.Name, created.Metadata.Uid);
        }
        catch (KubeletApiException e) when (e.IsAlreadyExists)
        {
            var existing = await ApiCall.RunAsync(identity, "get", "certificatesigningrequests", name,
                () => client.CertificatesV1.ReadCertificateSigningRequestAsync(name, cancellationToken: cancellationToken), cancellationToken).ConfigureAwait(false);
            if (Incompatible(existing, requestPem, signerName) is { } why)
                throw new CertificateBootstrapException(CertificateBootstrapProblem.RequestLost,
                    $"The certificate signing request {name} already exists and is not compatible with this node's key: {why}.", name, identity.Server);
            return (existing.Metadata.Name, existing.Metadata.Uid);
        }
    }

    /// <summary>client-go ensureCompatible: same subject, same signer, same public key.</summary>
    private static string? Incompatible(V1CertificateSigningRequest existing, string requestPem, string signerName)
    {
        if (existing.Spec?.SignerName != signerName) return $"its signer is {existing.Spec?.SignerName}, not {signerName}";
        try
        {
            var mine = CertificateRequest.LoadSigningRequestPem(requestPem, HashAlgorithmName.SHA256);
            var theirs = CertificateRequest.LoadSigningRequestPem(Encoding.UTF8.GetString(existing.Spec.Request ?? []), HashAlgorithmName.SHA256);
            if (mine.SubjectName.Name != theirs.SubjectName.Name) return $"its subject is {theirs.SubjectName.Name}";
            if (!mine.PublicKey.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(theirs.PublicKey.ExportSubjectPublicKeyInfo()))
                return "it is for another public key";
            return null;
        }
        catch (CryptographicException)
        {
            return "its request is not a PKCS#10 certificate request";
        }
    }

    /// <summary>Waits until the CSR is issued and returns the certificate PEM; the wait ends at <paramref name="timeout"/>.</summary>
    public async Task<string> WaitForCertificateAsync(string name, string uid, TimeSpan timeout, Action<CertificateBootstrapProgress>? progress,
        CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var fieldSelector = $"metadata.name={name}";
        var backoff = new Backoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30));
        var reported = CertificateBootstrapStage.Requesting;
        void Report(CertificateBootstrapStage stage, string message)
        {
            if (stage == reported) return;
            reported = stage;
            progress?.Invoke(new CertificateBootstrapProgress(stage, name, message));
        }
        try
        {
            while (true)
            {
                try
                {
                    var list = await ApiCall.RunAsync(identity, "list", "certificatesigningrequests", name,
                        () => client.CertificatesV1.ListCertificateSigningRequestAsync(fieldSelector: fieldSelector, cancellationToken: deadline.Token),
                        deadline.Token).ConfigureAwait(false);
                    var current = list.Items?.FirstOrDefault()
                        ?? throw new CertificateBootstrapException(CertificateBootstrapProblem.RequestLost, $"The certificate signing request {name} was deleted.", name, null);
                    if (Check(current, uid, Report) is { } issued) return issued;
                    var stream = client.CertificatesV1.WatchListCertificateSigningRequestAsync(fieldSelector: fieldSelector,
                        resourceVersion: list.Metadata?.ResourceVersion, timeoutSeconds: 300, cancellationToken: deadline.Token);
                    await foreach (var (type, csr) in stream.ConfigureAwait(false))
                    {
                        if (type == WatchEventType.Deleted)
                            throw new CertificateBootstrapException(CertificateBootstrapProblem.RequestLost, $"The certificate signing request {name} was deleted.", name, null);
                        if (type is not (WatchEventType.Added or WatchEventType.Modified)) continue;
                        if (Check(csr, uid, Report) is { } certificate) return certificate;
                    }
                    backoff.Reset();
                }
                catch (Exception e) when (!deadline.IsCancellationRequested && e is not CertificateBootstrapException
                    && (e is KubeletApiException { IsTransient: true } || ApiCall.Translate(identity, "watch", "certificatesigningrequests", name, e) is { IsTransient: true }))
                {
                    // The reflector keeps trying through API outages until the deadline.
                    Report(CertificateBootstrapStage.WaitingForApproval, $"Waiting for {name}: {e.Message} Retrying.");
                    await Task.Delay(backoff.Next(), deadline.Token).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new CertificateBootstrapException(CertificateBootstrapProblem.TimedOut,
                $"The certificate signing request {name} was not approved and issued within {timeout.TotalSeconds:0} s; approve it with 'kubectl certificate approve {name}'.",
                name, identity.Server);
        }
    }

    /// <summary>One observed state of the CSR: the certificate when issued, null to keep waiting; throws when denied or failed.</summary>
    private static string? Check(V1CertificateSigningRequest csr, string uid, Action<CertificateBootstrapStage, string> report)
    {
        var name = csr.Metadata?.Name;
        if (csr.Metadata?.Uid != uid)
            throw new CertificateBootstrapException(CertificateBootstrapProblem.RequestLost, $"The certificate signing request {name} changed UIDs: it was deleted and created again.", name, null);
        var approved = false;
        foreach (var condition in csr.Status?.Conditions ?? [])
        {
            switch (condition.Type)
            {
                case "Denied":
                    throw new CertificateBootstrapException(CertificateBootstrapProblem.Denied,
                        $"The certificate signing request {name} is denied, reason: {condition.Reason}, message: {condition.Message}", name, null, condition.Reason, condition.Message);
                case "Failed":
                    throw new CertificateBootstrapException(CertificateBootstrapProblem.Failed,
                        $"The certificate signing request {name} failed, reason: {condition.Reason}, message: {condition.Message}", name, null, condition.Reason, condition.Message);
                case "Approved":
                    approved = true;
                    break;
            }
        }
        if (!approved)
        {
            report(CertificateBootstrapStage.WaitingForApproval, $"Waiting for the certificate signing request {name} to be approved.");
            return null;
        }
        if (csr.Status?.Certificate is not { Length: > 0 } certificate)
        {
            report(CertificateBootstrapStage.WaitingForIssuance, $"The certificate signing request {name} is approved; waiting for the certificate to be issued.");
            return null;
        }
        return Encoding.UTF8.GetString(certificate);
    }
}
