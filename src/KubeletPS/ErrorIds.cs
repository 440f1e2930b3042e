namespace KubeletPS;

/// <summary>
/// The stable ErrorIds of every ErrorRecord the module writes: "&lt;Cmdlet&gt;&lt;Problem&gt;".
/// Scripts match on these (FullyQualifiedErrorId starts with them), so never rename one.
/// </summary>
internal static class ErrorIds
{
    // Shared by every cmdlet that reads files.
    internal const string PathNotFound = nameof(PathNotFound);
    internal const string PathNotFileSystem = nameof(PathNotFileSystem);
}
