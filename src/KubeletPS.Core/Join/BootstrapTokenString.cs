using System.Text.RegularExpressions;

namespace KubeletPS.Core.Join;

/// <summary>
/// A bootstrap token <c>ID.SECRET</c> (kubeadm's BootstrapTokenString, cmd/kubeadm/app/apis/bootstraptoken/v1): six and
/// sixteen characters of [a-z0-9]. The secret is only handed to the signature check and the bootstrap kubeconfig;
/// <see cref="ToString"/> and <see cref="Masked"/> show <c>ID.****</c>.
/// </summary>
public sealed partial class BootstrapTokenString
{
    /// <summary>The pattern kubeadm validates tokens with (BootstrapTokenPattern).</summary>
    public const string Pattern = "^([a-z0-9]{6})\\.([a-z0-9]{16})$";

    [GeneratedRegex(Pattern)]
    private static partial Regex TokenFormat();

    private BootstrapTokenString(string id, string secret)
    {
        Id = id;
        Secret = secret;
    }

    /// <summary>The public part: the Secret is bootstrap-token-ID, the user system:bootstrap:ID, the signature jws-kubeconfig-ID.</summary>
    public string Id { get; }

    internal string Secret { get; }

    /// <summary>The token as messages and progress show it: ID.****.</summary>
    public string Masked => $"{Id}.****";

    /// <summary>The full ID.SECRET, for the bootstrap kubeconfig only.</summary>
    internal string Value => $"{Id}.{Secret}";

    public override string ToString() => Masked;

    public static bool IsValid(string? token) => token is not null && TokenFormat().IsMatch(token);

    /// <summary>Parses <paramref name="token"/>; a malformed one is refused without echoing it (it may be a real secret with a typo).</summary>
    public static BootstrapTokenString Parse(string? token)
    {
        var match = TokenFormat().Match(token ?? "");
        if (!match.Success)
        {
            throw new KubeletException(
                $"The bootstrap token ({(token ?? "").Length} characters) is not of the form \"[a-z0-9]{{6}}.[a-z0-9]{{16}}\" (for example abcdef.0123456789abcdef); " +
                "print a valid one on a control-plane node with: kubeadm token create --print-join-command",
                KubeletErrorKind.InvalidArgument, "Token");
        }
        return new BootstrapTokenString(match.Groups[1].Value, match.Groups[2].Value);
    }
}
