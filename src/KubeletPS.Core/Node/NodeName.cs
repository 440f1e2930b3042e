using System.Text.RegularExpressions;

namespace KubeletPS.Core.Node;

/// <summary>
/// The node's name as kubelet derives it: --hostname-override, else the host name, lower-cased
/// and validated as a DNS-1123 subdomain (what the API server accepts for a Node's name).
/// </summary>
public static partial class NodeName
{
    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")]
    private static partial Regex Dns1123Subdomain();

    public static string Resolve(string? hostnameOverride = null)
    {
        var name = string.IsNullOrWhiteSpace(hostnameOverride) ? System.Net.Dns.GetHostName() : hostnameOverride;
        name = name.Trim().ToLowerInvariant();
        Validate(name);
        return name;
    }

    public static void Validate(string name)
    {
        if (name.Length is 0 or > 253 || !Dns1123Subdomain().IsMatch(name))
        {
            throw new KubeletException(
                $"Node name '{name}' is not a valid DNS-1123 subdomain: it must be at most 253 characters of lower-case letters, digits, '-' and '.', and start and end with a letter or digit.",
                KubeletErrorKind.InvalidArgument, name);
        }
    }
}
