using KubeletPS.Core.Configuration.Yaml;

namespace KubeletPS.Core.Configuration;

internal static class ConfigFiles
{
    /// <summary>Reads a configuration file (at most <see cref="YamlBounds.ConfigFile"/>); a missing, unreadable or oversized file is a KubeletConfigException naming it.</summary>
    internal static async Task<string> ReadAsync(string path, string what, CancellationToken cancellationToken)
    {
        try
        {
            if (Directory.Exists(path))
            {
                throw new KubeletConfigException($"the {what} path is a directory, not a file.", path, category: KubeletErrorKind.InvalidArgument);
            }
            return await BoundedYaml.ReadFileAsync(path, YamlBounds.ConfigFile, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new KubeletConfigException($"cannot find the {what} file.", path, category: KubeletErrorKind.NotFound, inner: e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new KubeletConfigException($"cannot read the {what} file: access is denied.", path, category: KubeletErrorKind.PermissionDenied, inner: e);
        }
        catch (IOException e)
        {
            throw new KubeletConfigException($"cannot read the {what} file: {e.Message}", path, category: KubeletErrorKind.InvalidData, inner: e);
        }
    }
}
