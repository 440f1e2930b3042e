using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using KubeletPS.Core.Configuration.Clientcmd;

namespace KubeletPS.Core.Api;

/// <summary>One raw request to the API server, as an administrator makes it with curl.</summary>
public sealed record ApiRequestOptions
{
    public string Path { get; init; } = "/api";
    public string Method { get; init; } = "GET";
    public string? Body { get; init; }
    public string ContentType { get; init; } = "application/json";
    /// <summary>Send no client certificate or token: the request is system:anonymous.</summary>
    public bool Anonymous { get; init; }
    /// <summary>Do not verify the server's certificate (curl -k). Callers must warn.</summary>
    public bool SkipCertificateCheck { get; init; }
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>The largest response body read; a longer one fails the request (a hostile server cannot exhaust memory).</summary>
    public long MaxResponseBytes { get; init; } = ResponseBodyLimitHandler.DefaultMaxBytes;
}

/// <summary>The API server's answer: status, parsed Status fields, and the body.</summary>
public sealed record ApiResponse(
    string Server,
    string Uri,
    string Method,
    string User,
    int StatusCode,
    string ReasonPhrase,
    string? ContentType,
    string Body,
    string? Kind,
    string? StatusReason,
    string? StatusMessage,
    TimeSpan Elapsed,
    bool CertificateVerified)
{
    public bool IsSuccess => StatusCode is >= 200 and < 300;
}

/// <summary>
/// Sends raw requests with a kubeconfig's server, CA and credentials. TLS is verified against
/// the kubeconfig's CA (only that CA: a certificate the system trusts but the cluster CA did not
/// sign is refused), the host name is checked, and failures say which server and why.
/// </summary>
public static class ApiRequester
{
    /// <summary>Counts a request without an answer in rest_client_requests_total; false, so the exception goes on to its handler.</summary>
    private static bool RecordFailure(Uri uri, string method)
    {
        Metrics.RestClientMetrics.Record(uri, method, null);
        return false;
    }

    public static async Task<ApiResponse> SendAsync(Kubeconfig kubeconfig, ApiRequestOptions options, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(kubeconfig.Server))
            throw new KubeletConfigException($"context \"{kubeconfig.ContextName}\" names no server.", kubeconfig.Path, field: "clusters[].cluster.server");
        var server = kubeconfig.Server.TrimEnd('/');
        var path = options.Path.StartsWith('/') ? options.Path : "/" + options.Path;
        var uri = new Uri(server + path);
        string? tlsFailure = null;
        var caCertificates = LoadCertificateAuthority(kubeconfig);
        using var clientCertificate = options.Anonymous ? null : LoadClientCertificate(kubeconfig);
        var user = options.Anonymous ? "system:anonymous"
            : clientCertificate is not null ? clientCertificate.GetNameInfo(X509NameType.SimpleName, false)
            : kubeconfig.HasToken ? $"token of user \"{kubeconfig.UserName}\"" : "system:anonymous";
        var verify = !(options.SkipCertificateCheck || kubeconfig.InsecureSkipTlsVerify);

        using var handler = new SocketsHttpHandler
        {
            ConnectTimeout = options.Timeout,
            PooledConnectionLifetime = TimeSpan.Zero,
            SslOptions = new SslClientAuthenticationOptions
            {
                TargetHost = string.IsNullOrEmpty(kubeconfig.TlsServerName) ? uri.Host : kubeconfig.TlsServerName,
                ClientCertificates = clientCertificate is null ? null : new X509CertificateCollection { clientCertificate },
                RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                {
                    if (!verify) return true;
                    tlsFailure = ValidateServerCertificate(certificate, errors, caCertificates);
                    return tlsFailure is null;
                },
            },
        };
        using var http = new HttpClient(new ResponseBodyLimitHandler(options.MaxResponseBytes) { InnerHandler = handler }) { Timeout = Timeout.InfiniteTimeSpan };
        using var request = new HttpRequestMessage(new HttpMethod(options.Method.ToUpperInvariant()), uri);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        request.Headers.UserAgent.ParseAdd($"kubeletps/{typeof(ApiRequester).Assembly.GetName().Version?.ToString(3)}");
        if (!options.Anonymous && clientCertificate is null && kubeconfig.HasToken)
        {
            var token = !string.IsNullOrEmpty(kubeconfig.Token) ? kubeconfig.Token : ReadFile(kubeconfig.TokenFile!, "token", "tokenFile", kubeconfig).Trim();
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        if (options.Body is not null)
        {
            request.Content = new StringContent(options.Body, Encoding.UTF8);
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(options.ContentType);
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Timeout);
        var watch = Stopwatch.StartNew();
        HttpResponseMessage response;
        string body;
        try
        {
            response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            Metrics.RestClientMetrics.Record(uri, request.Method.Method, (int)response.StatusCode);
            try
            {
                body = await response.Content.ReadAsStringAsync(timeout.Token).ConfigureAwait(false);
            }
            catch
            {
                response.Dispose();
                throw;
            }
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException && RecordFailure(uri, request.Method.Method))
        {
            throw;
        }
        catch (Exception e) when (TooLarge(e) is { } tooLarge)
        {
            throw new KubeletApiException($"The API server {server} sent too much: {tooLarge.Message} (MaxResponseBytes {options.MaxResponseBytes})",
                KubeletErrorKind.InvalidData, null, null, uri.ToString(), e);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new KubeletApiException($"The API server {server} did not answer {options.Method} {path} within {options.Timeout.TotalSeconds:0.#} s.",
                KubeletErrorKind.Timeout, null, null, server, null);
        }
        catch (HttpRequestException e) when (tlsFailure is not null)
        {
            throw new KubeletApiException($"The API server {server} is not trusted: {tlsFailure}", KubeletErrorKind.Security, null, null, server, e);
        }
        catch (HttpRequestException e)
        {
            throw new KubeletApiException($"Cannot reach the API server {server}: {Describe(e)}", KubeletErrorKind.Connection, null, null, server, e);
        }
        using (response)
        {
            watch.Stop();
            var (kind, reason, message) = ReadStatus(body);
            return new ApiResponse(server, uri.ToString(), options.Method.ToUpperInvariant(), user, (int)response.StatusCode,
                response.ReasonPhrase ?? response.StatusCode.ToString(), response.Content.Headers.ContentType?.MediaType,
                body, kind, reason, message, watch.Elapsed, verify);
        }
    }

    private static ResponseTooLargeException? TooLarge(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is ResponseTooLargeException tooLarge) return tooLarge;
        }
        return null;
    }

    private static string Describe(HttpRequestException e)
    {
        var inner = e.InnerException;
        return inner switch
        {
            SocketException s => $"{s.SocketErrorCode} ({s.Message})",
            AuthenticationException a => $"TLS handshake failed: {a.Message}",
            IOException io => io.Message,
            _ => e.Message,
        };
    }

    /// <summary>Null when the certificate chains to one of the cluster CAs and names the host; else why not.</summary>
    internal static string? ValidateServerCertificate(X509Certificate? certificate, SslPolicyErrors errors, X509Certificate2Collection? caCertificates)
    {
        if (certificate is null) return "it presented no certificate.";
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
            return $"its certificate ({certificate.Subject}) is not valid for this host name.";
        if (caCertificates is null)
            return errors == SslPolicyErrors.None ? null : $"its certificate ({certificate.Subject}) is not trusted by this system ({errors}) and the kubeconfig names no CA.";
        #if NET9_0_OR_GREATER
        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
#else
        using var leaf = new X509Certificate2(certificate.GetRawCertData());
#endif
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(caCertificates);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid("1.3.6.1.5.5.7.3.1"));
        if (chain.Build(leaf)) return null;
        var reasons = string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).Distinct());
        return $"its certificate ({leaf.Subject}, issued by {leaf.Issuer}) does not verify against the cluster CA ({string.Join(", ", caCertificates.Select(c => c.Subject))}): {reasons}";
    }

    internal static X509Certificate2Collection? LoadCertificateAuthority(Kubeconfig kubeconfig)
    {
        string? pem = kubeconfig.CertificateAuthorityData is { } data ? Encoding.ASCII.GetString(data)
            : kubeconfig.CertificateAuthorityFile is { } file ? ReadFile(file, "certificate authority", "certificate-authority", kubeconfig)
            : null;
        if (pem is null) return null;
        var collection = new X509Certificate2Collection();
        try { collection.ImportFromPem(pem); }
        catch (CryptographicException e)
        {
            throw new KubeletConfigException($"the certificate authority ({kubeconfig.CertificateAuthoritySource}) is not a PEM certificate bundle: {e.Message}",
                kubeconfig.Path, category: KubeletErrorKind.Security, inner: e);
        }
        if (collection.Count == 0)
            throw new KubeletConfigException($"the certificate authority ({kubeconfig.CertificateAuthoritySource}) holds no certificate.", kubeconfig.Path, category: KubeletErrorKind.Security);
        return collection;
    }

    /// <summary>The client certificate with its key, from files or embedded data (the key never leaves this method but inside the certificate).</summary>
    /// <summary>The first certificate of <paramref name="certificatePem"/> with the key of <paramref name="keyPem"/>, usable by SslStream.</summary>
    internal static X509Certificate2 CertificateWithKey(string certificatePem, string keyPem)
    {
        using var ephemeral = X509Certificate2.CreateFromPem(certificatePem, keyPem);
        // Re-import so that SslStream can use the key on every platform.
#if NET9_0_OR_GREATER
        return X509CertificateLoader.LoadPkcs12(ephemeral.Export(X509ContentType.Pkcs12), password: null);
#else
        return new X509Certificate2(ephemeral.Export(X509ContentType.Pkcs12));
#endif
    }

    internal static X509Certificate2? LoadClientCertificate(Kubeconfig kubeconfig)
    {
        var certificatePem = kubeconfig.ClientCertificateData is { } c ? Encoding.ASCII.GetString(c)
            : kubeconfig.ClientCertificateFile is { } cf ? ReadFile(cf, "client certificate", "client-certificate", kubeconfig) : null;
        if (certificatePem is null) return null;
        var keyPem = kubeconfig.ClientKeyData is { } k ? Encoding.ASCII.GetString(k)
            : kubeconfig.ClientKeyFile is { } kf ? ReadFile(kf, "client key", "client-key", kubeconfig) : null;
        if (keyPem is null)
            throw new KubeletConfigException($"user \"{kubeconfig.UserName}\" has a client certificate but no client key.", kubeconfig.Path, category: KubeletErrorKind.Security);
        if (keyPem.Contains("ENCRYPTED", StringComparison.Ordinal))
            throw new KubeletConfigException($"the client key ({kubeconfig.ClientKeySource}) is encrypted; a kubelet needs an unencrypted key.", kubeconfig.Path, category: KubeletErrorKind.Security);
        try
        {
            return CertificateWithKey(certificatePem, keyPem);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            // ArgumentException: "The provided key does not match the public key for this certificate."
            throw new KubeletConfigException($"the client certificate ({kubeconfig.ClientCertificateSource}) and key ({kubeconfig.ClientKeySource}) cannot be used together: {e.Message}",
                kubeconfig.Path, category: KubeletErrorKind.Security, inner: e);
        }
    }

    /// <summary>
    /// A file a kubeconfig names (<paramref name="field"/>: certificate-authority, client-certificate, client-key,
    /// tokenFile), read only when it is a regular file of at most <see cref="BoundedFile.CredentialFileLimit"/>.
    /// </summary>
    internal static string ReadFile(string file, string what, string field, Kubeconfig kubeconfig)
    {
        try { return BoundedFile.ReadCredentialText(file); }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new KubeletConfigException($"the {what} file '{file}' named by user \"{kubeconfig.UserName}\" does not exist.", kubeconfig.Path, field: field, category: KubeletErrorKind.NotFound, inner: e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new KubeletConfigException($"the {what} file '{file}' cannot be read: {e.Message}", kubeconfig.Path, field: field, category: KubeletErrorKind.PermissionDenied, inner: e);
        }
        catch (IOException e)
        {
            throw new KubeletConfigException($"{field}: the {what} file '{file}' named by user \"{kubeconfig.UserName}\" is not read: {e.Message}", kubeconfig.Path, field: field, inner: e);
        }
    }

    private static (string? Kind, string? Reason, string? Message) ReadStatus(string body)
    {
        if (string.IsNullOrWhiteSpace(body) || body[0] != '{') return (null, null, null);
        try
        {
            using var doc = JsonDocument.Parse(body);
            var root = doc.RootElement;
            string? Get(string name) => root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            return (Get("kind"), Get("reason"), Get("message"));
        }
        catch (JsonException)
        {
            return (null, null, null);
        }
    }
}
