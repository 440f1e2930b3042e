using System.Text;
using System.Text.Json;

namespace KubeletPS.Core.Pods.Images;

/// <summary>A docker config (config.json or .dockercfg, a file or a pull secret's key) that cannot be read; the message names the source, never its content.</summary>
public sealed class DockerConfigException(string message) : Exception(message);

/// <summary>
/// Kubelet's docker config formats (pkg/credentialprovider/config.go): config.json
/// (<c>{"auths": {REGISTRY: ENTRY}}</c>, kubernetes.io/dockerconfigjson) and the legacy .dockercfg
/// (<c>{REGISTRY: ENTRY}</c>, kubernetes.io/dockercfg); an entry has <c>auth</c> (base64 of user:password,
/// which wins) or <c>username</c>/<c>password</c>, and <c>email</c>.
/// </summary>
public static class DockerConfigFile
{
    public const string ConfigJsonFileName = "config.json";
    public const string DockercfgFileName = ".dockercfg";

    /// <summary>Parses config.json content; <paramref name="source"/> names it in errors (a file, or secret NS/NAME key .dockerconfigjson).</summary>
    public static IReadOnlyDictionary<string, DockerConfigEntry> ParseConfigJson(ReadOnlySpan<byte> content, string source)
    {
        using var document = Parse(content, source);
        if (document.RootElement.ValueKind != JsonValueKind.Object)
            throw new DockerConfigException($"{source}: the docker config is not a JSON object.");
        if (!document.RootElement.TryGetProperty("auths", out var auths) || auths.ValueKind == JsonValueKind.Null)
            return new Dictionary<string, DockerConfigEntry>();
        return Entries(auths, source, "auths.");
    }

    /// <summary>Parses legacy .dockercfg content (the registries at the top level).</summary>
    public static IReadOnlyDictionary<string, DockerConfigEntry> ParseDockercfg(ReadOnlySpan<byte> content, string source)
    {
        using var document = Parse(content, source);
        return Entries(document.RootElement, source, "");
    }

    /// <summary>
    /// The node's credentials as kubelet's ReadDockerConfigFile finds them: the first readable config.json in
    /// <paramref name="rootDirectory"/>, the working directory, $HOME/.docker and /.docker; else the first
    /// .dockercfg in the root directory, the working directory, $HOME and /. A file that cannot be parsed is
    /// reported to <paramref name="skipped"/> and the search goes on, as kubelet's does.
    /// </summary>
    public static IReadOnlyDictionary<string, DockerConfigEntry>? ReadNodeConfig(string rootDirectory, Action<string>? skipped = null)
    {
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        var work = Environment.CurrentDirectory;
        string[] jsonDirs = [rootDirectory, work, Path.Combine(home, ".docker"), "/.docker"];
        string[] cfgDirs = [rootDirectory, work, home, "/"];
        return Search(jsonDirs, ConfigJsonFileName, ParseConfigJson, skipped) ?? Search(cfgDirs, DockercfgFileName, ParseDockercfg, skipped);
    }

    /// <summary>The most a node credential file may hold: a docker config is a few KiB; a larger file is skipped, not read.</summary>
    public const int MaxFileBytes = 1 << 20;

    private static byte[] ReadBounded(string path)
    {
        using var file = BoundedFile.OpenRegular(path); // a FIFO would wait for a writer forever
        var buffer = new byte[MaxFileBytes + 1];
        var read = 0;
        while (read < buffer.Length && file.Read(buffer, read, buffer.Length - read) is var n and > 0) read += n;
        if (read > MaxFileBytes) throw new IOException($"the file is larger than {MaxFileBytes} bytes; it is not read");
        return buffer[..read];
    }

    private delegate IReadOnlyDictionary<string, DockerConfigEntry> Parser(ReadOnlySpan<byte> content, string source);

    private static IReadOnlyDictionary<string, DockerConfigEntry>? Search(string[] dirs, string fileName, Parser parse, Action<string>? skipped)
    {
        foreach (var dir in dirs.Where(d => !string.IsNullOrEmpty(d)))
        {
            var path = Path.Combine(dir, fileName);
            byte[] content;
            try
            {
                content = ReadBounded(path);
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
            {
                continue;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                skipped?.Invoke($"{path}: {e.Message}");
                continue;
            }
            try
            {
                return parse(content, path);
            }
            catch (DockerConfigException e)
            {
                skipped?.Invoke(e.Message);
            }
        }
        return null;
    }

    private static JsonDocument Parse(ReadOnlySpan<byte> content, string source)
    {
        try
        {
            var reader = new Utf8JsonReader(content, new JsonReaderOptions { MaxDepth = 16 });
            return JsonDocument.ParseValue(ref reader);
        }
        catch (JsonException e)
        {
            // The reader's message gives the line and byte position only, never the content.
            throw new DockerConfigException($"{source}: not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine}).");
        }
    }

    private static Dictionary<string, DockerConfigEntry> Entries(JsonElement registries, string source, string prefix)
    {
        if (registries.ValueKind != JsonValueKind.Object)
            throw new DockerConfigException($"{source}: {(prefix.Length > 0 ? prefix.TrimEnd('.') : "the docker config")} is not a JSON object of registries.");
        var entries = new Dictionary<string, DockerConfigEntry>(StringComparer.Ordinal);
        foreach (var registry in registries.EnumerateObject())
        {
            var field = $"{prefix}{registry.Name}";
            if (registry.Value.ValueKind != JsonValueKind.Object)
                throw new DockerConfigException($"{source}: {field} is not a JSON object.");
            string username = Text(registry.Value, "username", source, field), password = Text(registry.Value, "password", source, field);
            var auth = Text(registry.Value, "auth", source, field);
            if (auth.Length > 0) (username, password) = DecodeAuth(auth, source, field);
            entries[registry.Name] = new DockerConfigEntry(username, password, Text(registry.Value, "email", source, field));
        }
        return entries;
    }

    private static string Text(JsonElement entry, string name, string source, string field)
    {
        if (!entry.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return "";
        if (value.ValueKind != JsonValueKind.String) throw new DockerConfigException($"{source}: {field}.{name} is not a string.");
        return value.GetString() ?? "";
    }

    /// <summary>config.go decodeDockerConfigFieldAuth: padded or unpadded base64 of "user:password".</summary>
    private static (string Username, string Password) DecodeAuth(string auth, string source, string field)
    {
        var text = auth.Trim();
        if (!text.EndsWith('=')) text = text.PadRight(text.Length + ((4 - (text.Length % 4)) % 4), '=');
        byte[] decoded;
        try
        {
            decoded = Convert.FromBase64String(text);
        }
        catch (FormatException)
        {
            throw new DockerConfigException($"{source}: {field}.auth is not valid base64.");
        }
        var value = Encoding.UTF8.GetString(decoded);
        var colon = value.IndexOf(':');
        if (colon < 0)
            throw new DockerConfigException($"{source}: {field}.auth: unable to parse auth field, must be formatted as base64(username:password).");
        return (value[..colon], value[(colon + 1)..]);
    }
}
