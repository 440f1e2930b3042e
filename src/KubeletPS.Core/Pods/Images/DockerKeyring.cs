using System.Text.RegularExpressions;

namespace KubeletPS.Core.Pods.Images;

/// <summary>One registry entry of a docker config file (kubelet's credentialprovider.DockerConfigEntry).</summary>
public sealed class DockerConfigEntry(string username, string password, string email = "")
{
    public string Username { get; } = username;
    public string Password { get; } = password;
    public string Email { get; } = email;

    /// <summary>Names the user only: a password never reaches a log line or an exception.</summary>
    public override string ToString() => $"credentials for user \"{Username}\"";
}

/// <summary>
/// Kubelet's BasicDockerKeyring (pkg/credentialprovider/keyring.go): credentials by registry location
/// (host, port and path prefix, with glob wildcards in host labels such as <c>*.example.com</c>), looked up
/// by image repository, the most specific location first.
/// </summary>
public sealed class DockerKeyring
{
    private const string DefaultRegistryHost = "index.docker.io";

    private readonly Dictionary<string, List<DockerConfigEntry>> _creds = new(StringComparer.Ordinal);
    private List<string> _index = [];

    /// <summary>Adds a config's entries (keyring.go Add): the scheme and a /v1/ or /v2/ path prefix are dropped; an entry whose location is not a URL is skipped.</summary>
    public void Add(IReadOnlyDictionary<string, DockerConfigEntry> config)
    {
        foreach (var (location, entry) in config)
        {
            var value = location.StartsWith("https://", StringComparison.Ordinal) || location.StartsWith("http://", StringComparison.Ordinal) ? location : "https://" + location;
            if (!TryParseUrl(value, out var host, out var path)) continue;
            // The docker client treats /v2/ and /v1/ as the bare host (docker/registry ResolveAuthConfig).
            if (path.StartsWith("/v2/", StringComparison.Ordinal) || path.StartsWith("/v1/", StringComparison.Ordinal)) path = path[3..];
            var key = path.Length > 0 && path != "/" ? host + path : host;
            if (!_creds.TryGetValue(key, out var list)) _creds[key] = list = [];
            list.Add(entry);
            if (!_index.Contains(key)) _index.Add(key);
        }
        // Reverse-sorted so that more specific paths match first ("quay.io/coreos" before "quay.io").
        _index = [.. _index.OrderByDescending(k => k, StringComparer.Ordinal)];
    }

    /// <summary>The credentials for an image repository (no tag or digest: <see cref="ImageReference.Repository"/>), in the order to try them.</summary>
    public IReadOnlyList<DockerConfigEntry> Lookup(string repository)
    {
        var found = new List<DockerConfigEntry>();
        foreach (var key in _index)
        {
            if (UrlsMatch(key, repository)) found.AddRange(_creds[key]);
        }
        if (found.Count > 0) return found;
        return IsDefaultRegistryMatch(repository) && _creds.TryGetValue(DefaultRegistryHost, out var hub) ? hub : [];
    }

    /// <summary>Whether the image is pulled from Docker Hub (keyring.go isDefaultRegistryMatch).</summary>
    public static bool IsDefaultRegistryMatch(string image)
    {
        var parts = image.Split('/', 2);
        if (parts[0].Length == 0) return false;
        if (parts.Length == 1) return true;
        if (parts[0] is "docker.io" or "index.docker.io") return true;
        // Docker Hub's names have no '.' or ':' in their first element.
        return parts[0].IndexOfAny(['.', ':']) < 0;
    }

    /// <summary>
    /// Kubelet's URLsMatchStr: both are schemeless URLs; the ports must be equal, the hosts have as many labels
    /// and each target label matches the glob's (filepath.Match), and the glob's path is a prefix of the target's.
    /// </summary>
    public static bool UrlsMatch(string glob, string target)
    {
        if (!TryParseUrl("https://" + glob, out var globHost, out var globPath) || !TryParseUrl("https://" + target, out var targetHost, out var targetPath))
            return false;
        var (globParts, globPort) = SplitHost(globHost);
        var (targetParts, targetPort) = SplitHost(targetHost);
        if (globPort != targetPort || globParts.Length != targetParts.Length) return false;
        if (!targetPath.StartsWith(globPath, StringComparison.Ordinal)) return false;
        for (var i = 0; i < globParts.Length; i++)
        {
            if (!GlobMatch(globParts[i], targetParts[i])) return false;
        }
        return true;
    }

    /// <summary>Go's url.Parse for what the keyring meets: scheme://host[:port][/path][?query][#fragment]; false where Go errs (bad port, spaces, control characters).</summary>
    internal static bool TryParseUrl(string url, out string host, out string path)
    {
        host = path = "";
        var scheme = url.IndexOf("://", StringComparison.Ordinal);
        if (scheme < 0) return false;
        var rest = url[(scheme + 3)..];
        var end = rest.IndexOfAny(['?', '#']);
        if (end >= 0) rest = rest[..end];
        var slash = rest.IndexOf('/');
        host = slash < 0 ? rest : rest[..slash];
        path = slash < 0 ? "" : rest[slash..];
        if (host.Any(c => c <= ' ' || c == 0x7f) || path.Any(c => c < ' ' || c == 0x7f)) return false;
        var at = host.LastIndexOf('@');
        if (at >= 0) host = host[(at + 1)..];
        var colon = host.StartsWith('[') ? host.IndexOf("]:", StringComparison.Ordinal) + 1 : host.LastIndexOf(':');
        return colon <= 0 || host[(colon + 1)..].All(char.IsAsciiDigit);
    }

    private static (string[] Parts, string Port) SplitHost(string host)
    {
        string name = host, port = "";
        if (host.StartsWith('['))
        {
            var close = host.IndexOf("]:", StringComparison.Ordinal);
            if (close > 0) (name, port) = (host[1..close], host[(close + 2)..]);
        }
        else if (host.Count(c => c == ':') == 1)
        {
            var colon = host.IndexOf(':');
            (name, port) = (host[..colon], host[(colon + 1)..]);
        }
        return (name.Split('.'), port);
    }

    /// <summary>Go's filepath.Match on one host label: '*' any run, '?' one character, '[...]' a class ('^' negates); a malformed pattern matches nothing.</summary>
    internal static bool GlobMatch(string pattern, string name)
    {
        var regex = new System.Text.StringBuilder("^");
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            switch (c)
            {
                case '*': regex.Append("[^/]*"); break;
                case '?': regex.Append("[^/]"); break;
                case '\\' when i + 1 < pattern.Length: regex.Append(Regex.Escape(pattern[++i].ToString())); break;
                case '\\': return false;
                case '[':
                    var close = pattern.IndexOf(']', i + 1);
                    if (close < 0) return false;
                    var body = pattern[(i + 1)..close];
                    if (body.Length == 0 || body == "^") return false;
                    var negate = body.StartsWith('^');
                    if (negate) body = body[1..];
                    regex.Append(negate ? "[^" : "[").Append(body.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("[", "\\[", StringComparison.Ordinal)).Append(']');
                    i = close;
                    break;
                default: regex.Append(Regex.Escape(c.ToString())); break;
            }
        }
        regex.Append('$');
        try
        {
            return Regex.IsMatch(name, regex.ToString(), RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
