using KubeletPS.Core.Api;

namespace KubeletPS.Output;

/// <summary>The API server's answer to Invoke-KubeletApiRequest.</summary>
public sealed class KubeletApiResponse
{
    internal KubeletApiResponse(ApiResponse response)
    {
        StatusCode = response.StatusCode;
        ReasonPhrase = response.ReasonPhrase;
        Method = response.Method;
        Uri = response.Uri;
        Server = response.Server;
        User = response.User;
        Kind = response.Kind;
        Reason = response.StatusReason;
        Message = response.StatusMessage;
        ContentType = response.ContentType;
        RawContent = response.Body;
        Body = response.ContentType?.Contains("json", StringComparison.OrdinalIgnoreCase) == true || response.Body.TrimStart().StartsWith('{')
            ? JsonToPSObject.Convert(response.Body) : response.Body;
        Elapsed = response.Elapsed;
        CertificateVerified = response.CertificateVerified;
    }

    public int StatusCode { get; }
    public string ReasonPhrase { get; }
    public string Method { get; }
    public string Uri { get; }
    public string Server { get; }
    /// <summary>Who the request was made as: system:node:NAME, system:anonymous…</summary>
    public string User { get; }
    /// <summary>The kind of the returned object (APIVersions, Status, Node…).</summary>
    public string? Kind { get; }
    /// <summary>The Status reason (Forbidden, NotFound…) for Status answers.</summary>
    public string? Reason { get; }
    /// <summary>The Status message, e.g. forbidden: User "system:anonymous" cannot get path "/".</summary>
    public string? Message { get; }
    public string? ContentType { get; }
    /// <summary>The body parsed from JSON, as ConvertFrom-Json gives it.</summary>
    public object? Body { get; }
    public string RawContent { get; }
    public TimeSpan Elapsed { get; }
    /// <summary>False when -SkipCertificateCheck (or insecure-skip-tls-verify) was in effect.</summary>
    public bool CertificateVerified { get; }
    public bool IsSuccess => StatusCode is >= 200 and < 300;
}
