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

    // Invoke-KubeletApiRequest
    internal const string InvokeKubeletApiRequestInvalidKubeconfig = nameof(InvokeKubeletApiRequestInvalidKubeconfig);
    internal const string InvokeKubeletApiRequestFailed = nameof(InvokeKubeletApiRequestFailed);

    // Test-KubeletApiConnection
    internal const string TestKubeletApiConnectionInvalidKubeconfig = nameof(TestKubeletApiConnectionInvalidKubeconfig);
    // Certificate inputs (Get-KubeletCertificate, Test-KubeletCertificate). A missing file,
    // named by a parameter or by the kubeconfig, is PathNotFound like any other.
    internal const string NoCertificate = nameof(NoCertificate);
    internal const string CertificateUnreadable = nameof(CertificateUnreadable);
    internal const string KeyUnreadable = nameof(KeyUnreadable);
    internal const string KeyEncrypted = nameof(KeyEncrypted);
    internal const string FileUnreadable = nameof(FileUnreadable);
    internal const string KubeconfigInvalid = nameof(KubeconfigInvalid);

    // The node cmdlets: the prefix, to which NodeAgentCmdlet.NodeError appends InvalidConfiguration,
    // ApiRequestFailed, InvalidArgument, Stopped or Failed.
    internal const string InvokeKubeletNodeRegistration = nameof(InvokeKubeletNodeRegistration);

    // Install-KubeletService: the prefix, to which ModuleNotFound, PathNotFound, UnitExists,
    // InvalidArgument, AccessDenied or Failed is appended.
    internal const string InstallKubeletService = nameof(InstallKubeletService);
    internal const string GetKubeletNode = nameof(GetKubeletNode);
    internal const string StartKubeletNodeHeartbeat = nameof(StartKubeletNodeHeartbeat);
    internal const string StartKubeletAgent = nameof(StartKubeletAgent);
    // Get-KubeletPod
    internal const string GetKubeletPodNotFound = nameof(GetKubeletPodNotFound);
    internal const string GetKubeletPodRuntimeUnavailable = nameof(GetKubeletPodRuntimeUnavailable);
    internal const string GetKubeletPodRuntimeNotReady = nameof(GetKubeletPodRuntimeNotReady);
    internal const string GetKubeletPodRuntimeError = nameof(GetKubeletPodRuntimeError);
    internal const string GetKubeletPodInvalidEndpoint = nameof(GetKubeletPodInvalidEndpoint);
    internal const string GetKubeletPodInvalidConfig = nameof(GetKubeletPodInvalidConfig);

    // Get-KubeletContainerLog
    internal const string GetKubeletContainerLogPodNotFound = nameof(GetKubeletContainerLogPodNotFound);
    internal const string GetKubeletContainerLogPodAmbiguous = nameof(GetKubeletContainerLogPodAmbiguous);
    internal const string GetKubeletContainerLogContainerNameRequired = nameof(GetKubeletContainerLogContainerNameRequired);
    internal const string GetKubeletContainerLogContainerNotFound = nameof(GetKubeletContainerLogContainerNotFound);
    internal const string GetKubeletContainerLogInvalidArgument = nameof(GetKubeletContainerLogInvalidArgument);
    internal const string GetKubeletContainerLogPreviousNotFound = nameof(GetKubeletContainerLogPreviousNotFound);
    internal const string GetKubeletContainerLogFileNotFound = nameof(GetKubeletContainerLogFileNotFound);
    internal const string GetKubeletContainerLogRuntimeUnavailable = nameof(GetKubeletContainerLogRuntimeUnavailable);
    internal const string GetKubeletContainerLogRuntimeNotReady = nameof(GetKubeletContainerLogRuntimeNotReady);
    internal const string GetKubeletContainerLogRuntimeError = nameof(GetKubeletContainerLogRuntimeError);
    internal const string GetKubeletContainerLogInvalidEndpoint = nameof(GetKubeletContainerLogInvalidEndpoint);
    internal const string GetKubeletContainerLogInvalidConfig = nameof(GetKubeletContainerLogInvalidConfig);
    // Get-KubeletStats
    internal const string GetKubeletStatsPodNotFound = nameof(GetKubeletStatsPodNotFound);
    internal const string GetKubeletStatsRuntimeUnavailable = nameof(GetKubeletStatsRuntimeUnavailable);
    internal const string GetKubeletStatsRuntimeNotReady = nameof(GetKubeletStatsRuntimeNotReady);
    internal const string GetKubeletStatsRuntimeError = nameof(GetKubeletStatsRuntimeError);
    internal const string GetKubeletStatsInvalidEndpoint = nameof(GetKubeletStatsInvalidEndpoint);
    internal const string GetKubeletStatsInvalidConfig = nameof(GetKubeletStatsInvalidConfig);

    // Invoke-KubeletContainerCommand
    internal const string InvokeKubeletContainerCommandPodNotFound = nameof(InvokeKubeletContainerCommandPodNotFound);
    internal const string InvokeKubeletContainerCommandPodAmbiguous = nameof(InvokeKubeletContainerCommandPodAmbiguous);
    internal const string InvokeKubeletContainerCommandContainerNameRequired = nameof(InvokeKubeletContainerCommandContainerNameRequired);
    internal const string InvokeKubeletContainerCommandContainerNotFound = nameof(InvokeKubeletContainerCommandContainerNotFound);
    internal const string InvokeKubeletContainerCommandContainerNotRunning = nameof(InvokeKubeletContainerCommandContainerNotRunning);
    internal const string InvokeKubeletContainerCommandTimeout = nameof(InvokeKubeletContainerCommandTimeout);
    internal const string InvokeKubeletContainerCommandFailed = nameof(InvokeKubeletContainerCommandFailed);
    internal const string InvokeKubeletContainerCommandRuntimeUnavailable = nameof(InvokeKubeletContainerCommandRuntimeUnavailable);
    internal const string InvokeKubeletContainerCommandRuntimeNotReady = nameof(InvokeKubeletContainerCommandRuntimeNotReady);
    internal const string InvokeKubeletContainerCommandRuntimeError = nameof(InvokeKubeletContainerCommandRuntimeError);
    internal const string InvokeKubeletContainerCommandInvalidEndpoint = nameof(InvokeKubeletContainerCommandInvalidEndpoint);
    internal const string InvokeKubeletContainerCommandInvalidConfig = nameof(InvokeKubeletContainerCommandInvalidConfig);
    // Request-KubeletCertificate: the prefix, to which a CertificateBootstrapProblem (Denied, Failed, TimedOut,
    // Unauthorized, Forbidden, RequestLost, InvalidCertificate), InvalidKubeconfig, ApiRequestFailed, Stopped or Failed is appended.
    internal const string RequestKubeletCertificate = nameof(RequestKubeletCertificate);
    internal const string InvalidKubeconfig = nameof(InvalidKubeconfig);
    internal const string ApiRequestFailed = nameof(ApiRequestFailed);
    // Update-KubeletCertificate: the prefix, to which a CertificateBootstrapProblem, InvalidArgument, InvalidKubeconfig,
    // ApiRequestFailed, CredentialsUnusable (an expired client certificate without -BootstrapKubeconfigPath), Stopped or Failed is appended.
    internal const string UpdateKubeletCertificate = nameof(UpdateKubeletCertificate);

    // Join-KubeletCluster: the prefix, to which a JoinProblem (CACertHashMismatch, SignatureInvalid, TokenNotSigned, TokenRefused,
    // DiscoveryFailed, ServerNotTrusted, ClusterInfoInvalid, KubeletConfigInvalid, AlreadyJoined, NodeExists), a
    // CertificateBootstrapProblem, InvalidArgument, CACertHashRequired, SystemdNotRunning, InstallFailed, Stopped or Failed is appended.
    internal const string JoinKubeletCluster = nameof(JoinKubeletCluster);

    // Start-KubeletPodSync
    internal const string StartKubeletPodSyncInvalidConfig = nameof(StartKubeletPodSyncInvalidConfig);
    internal const string StartKubeletPodSyncInvalidArgument = nameof(StartKubeletPodSyncInvalidArgument);
    internal const string StartKubeletPodSyncNoStaticPodPath = nameof(StartKubeletPodSyncNoStaticPodPath);
    internal const string StartKubeletPodSyncTimeout = nameof(StartKubeletPodSyncTimeout);

    // Test-KubeletNode
    internal const string TestKubeletNodePesterNotFound = nameof(TestKubeletNodePesterNotFound);
    internal const string TestKubeletNodeUnknownGroup = nameof(TestKubeletNodeUnknownGroup);
    internal const string TestKubeletNodeSuiteNotFound = nameof(TestKubeletNodeSuiteNotFound);
    // Get-KubeletService, Get-KubeletLog, Restart-KubeletService, Uninstall-KubeletService: the prefixes,
    // to which NoSystemd, NotFound, InvalidArgument, NotWrittenByInstall, AccessDenied or Failed is appended.
    internal const string GetKubeletService = nameof(GetKubeletService);
    internal const string GetKubeletLog = nameof(GetKubeletLog);
    internal const string RestartKubeletService = nameof(RestartKubeletService);
    internal const string UninstallKubeletService = nameof(UninstallKubeletService);

    // Invoke-KubeletGarbageCollection
    internal const string InvokeKubeletGarbageCollectionRuntimeUnavailable = nameof(InvokeKubeletGarbageCollectionRuntimeUnavailable);
    internal const string InvokeKubeletGarbageCollectionRuntimeNotReady = nameof(InvokeKubeletGarbageCollectionRuntimeNotReady);
    internal const string InvokeKubeletGarbageCollectionRuntimeError = nameof(InvokeKubeletGarbageCollectionRuntimeError);
    internal const string InvokeKubeletGarbageCollectionInvalidEndpoint = nameof(InvokeKubeletGarbageCollectionInvalidEndpoint);
    internal const string InvokeKubeletGarbageCollectionInvalidConfig = nameof(InvokeKubeletGarbageCollectionInvalidConfig);
    internal const string InvokeKubeletGarbageCollectionInvalidPolicy = nameof(InvokeKubeletGarbageCollectionInvalidPolicy);
    internal const string InvokeKubeletGarbageCollectionRemoveFailed = nameof(InvokeKubeletGarbageCollectionRemoveFailed);
}
