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

    // Get-KubeletConfig
    internal const string GetKubeletConfigFileNotFound = nameof(GetKubeletConfigFileNotFound);
    internal const string GetKubeletConfigAccessDenied = nameof(GetKubeletConfigAccessDenied);
    internal const string GetKubeletConfigInvalidYaml = nameof(GetKubeletConfigInvalidYaml);
    internal const string GetKubeletConfigWrongKind = nameof(GetKubeletConfigWrongKind);
    internal const string GetKubeletConfigInvalidValue = nameof(GetKubeletConfigInvalidValue);
    internal const string GetKubeletConfigInvalidKubeconfig = nameof(GetKubeletConfigInvalidKubeconfig);
    internal const string GetKubeletConfigRootNotFound = nameof(GetKubeletConfigRootNotFound);
    internal const string GetKubeletConfigPathNotFileSystem = nameof(GetKubeletConfigPathNotFileSystem);

    // Start-KubeletPodSync
    internal const string StartKubeletPodSyncInvalidConfig = nameof(StartKubeletPodSyncInvalidConfig);
    internal const string StartKubeletPodSyncInvalidArgument = nameof(StartKubeletPodSyncInvalidArgument);
    internal const string StartKubeletPodSyncNoStaticPodPath = nameof(StartKubeletPodSyncNoStaticPodPath);
    internal const string StartKubeletPodSyncTimeout = nameof(StartKubeletPodSyncTimeout);
}
