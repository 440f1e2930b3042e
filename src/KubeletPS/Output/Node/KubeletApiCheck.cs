using KubeletPS.Core.Api;

namespace KubeletPS.Output;

/// <summary>One check made by Test-KubeletApiConnection -Detailed.</summary>
public sealed class KubeletApiCheck
{
    internal KubeletApiCheck(ApiConnectionCheck check)
    {
        Name = check.Name;
        Passed = check.Passed;
        Message = check.Message;
        Server = check.Server;
    }

    /// <summary>ServerTrusted, AnonymousRefused, CredentialsAccepted or NodeAuthorized.</summary>
    public string Name { get; }
    public bool Passed { get; }
    public string Message { get; }
    public string Server { get; }
}
