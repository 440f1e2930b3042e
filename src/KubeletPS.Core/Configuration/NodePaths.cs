namespace KubeletPS.Core.Configuration;

/// <summary>
/// Where a path written in a node's configuration file is on this machine. A relative path is
/// resolved against the folder of the file that names it (as kubelet and kubectl do); an
/// absolute one is a path on the node, so it moves under <c>root</c> when the node's file
/// system is mounted elsewhere (inspecting a node image).
/// </summary>
public static class NodePaths
{
    public static string Resolve(string value, string fileDirectory, string? root)
    {
        if (string.IsNullOrEmpty(value)) return value;
        if (Path.IsPathRooted(value)) return UnderRoot(value, root);
        return Path.GetFullPath(Path.Combine(fileDirectory, value));
    }

    /// <summary>An absolute node path as seen from this machine: unchanged without a root.</summary>
    public static string UnderRoot(string nodePath, string? root) =>
        string.IsNullOrEmpty(root) ? nodePath : Path.Join(Path.GetFullPath(root), nodePath.TrimStart('/', '\\'));
}
