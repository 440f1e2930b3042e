using System.Management.Automation;
using KubeletPS.Core;
using KubeletPS.Core.Agent;
using KubeletPS.Core.Configuration;
using KubeletPS.Core.Pods.Images;

namespace KubeletPS.Commands;

/// <summary>
/// Start-KubeletPodSync: runs the node's static pods on its container runtime (kubelet in
/// standalone mode) until Ctrl+C, or once with -Once. The work is the engine's PodSyncAgent.
/// </summary>
[Cmdlet(VerbsLifecycle.Start, "KubeletPodSync", SupportsShouldProcess = true)]
[Alias("Start-PodSync")]
[OutputType(typeof(void))] // writes no objects: verbose lines, progress and warnings only
public sealed class StartKubeletPodSyncCommand : KubeletCmdlet
{
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string? StaticPodPath { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string? RuntimeEndpoint { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ConfigPath { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? NodeName { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? RootDirectory { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? PodLogDirectory { get; set; }

    [Parameter]
    public SwitchParameter Once { get; set; }

    [Parameter]
    [ValidateRange(1, 86400)]
    public int TimeoutSeconds { get; set; } = 300;

    [Parameter]
    public SwitchParameter StopPodsOnExit { get; set; }

    protected override void ProcessRecord()
    {
        PodSyncAgentOptions options;
        LoadedKubeletConfig? config;
        try
        {
            options = ResolveOptions(out config);
        }
        catch (KubeletException e)
        {
            ThrowTerminatingError(EngineError(e, e is KubeletConfigException ? ErrorIds.StartKubeletPodSyncInvalidConfig : ErrorIds.StartKubeletPodSyncInvalidArgument, e.Target));
            return;
        }
        if (string.IsNullOrEmpty(options.StaticPodPath))
        {
            ThrowTerminatingError(new ErrorRecord(new ArgumentException("No static pod path: give -StaticPodPath or a kubelet configuration with staticPodPath."),
                ErrorIds.StartKubeletPodSyncNoStaticPodPath, ErrorCategory.InvalidArgument, null));
            return;
        }
        var target = $"node {options.NodeName}: static pods from {options.StaticPodPath} on {options.RuntimeEndpoint}";
        if (!ShouldProcess(target, Once ? "Run pods once" : "Run pods until stopped")) return;
        config?.WarnNotInEffect(Log);

        WriteVerbose($"Node {options.NodeName}, static pods {options.StaticPodPath}, runtime {options.RuntimeEndpoint}, root {options.RootDirectory}, pod logs {options.PodLogsDirectory}, sync every {options.SyncFrequency}, file check every {options.FileCheckFrequency}.");
        try
        {
            if (Once)
            {
                var result = RunOnPipeline(async ct =>
                {
                    await using var agent = new PodSyncAgent(options);
                    var waiting = new Progress(this, 2, "Waiting for pods to start");
                    return await agent.SyncOnceAsync(TimeSpan.FromSeconds(TimeoutSeconds), waiting, ct).ConfigureAwait(false);
                });
                WriteProgress(new ProgressRecord(1, "Pulling images", "done") { RecordType = ProgressRecordType.Completed });
                WriteProgress(new ProgressRecord(2, "Waiting for pods to start", "done") { RecordType = ProgressRecordType.Completed });
                foreach (var pod in result.Summaries)
                {
                    var line = $"pod {pod.Namespace}/{pod.Name}: {pod.Phase}, {pod.ReadyContainers}/{pod.Containers} ready, {pod.Restarts} restarts{(pod.PodIp is null ? "" : $", IP {pod.PodIp}")}";
                    if (pod.Problem is not null || pod.Phase == "Failed") WriteWarning($"{line}: {pod.Problem}");
                    else WriteVerbose(line);
                }
                if (!result.Settled)
                {
                    WriteError(new ErrorRecord(new TimeoutException($"Not every pod started or failed within {TimeoutSeconds} s; the pods keep starting in the runtime."),
                        ErrorIds.StartKubeletPodSyncTimeout, ErrorCategory.OperationTimeout, options.StaticPodPath));
                }
            }
            else
            {
                using var terminate = StopOnTerminationSignal();
                RunOnPipeline(async ct =>
                {
                    await using var agent = new PodSyncAgent(options);
                    await agent.RunAsync(ct).ConfigureAwait(false);
                });
            }
        }
        catch (OperationCanceledException)
        {
            // Ctrl+C: the pods keep running unless -StopPodsOnExit.
        }
    }

    private PodSyncAgentOptions ResolveOptions(out LoadedKubeletConfig? loaded)
    {
        KubeletConfiguration? configuration = null;
        loaded = null;
        var configPath = ConfigPath is not null ? ResolveLiteralPath(ConfigPath)
            : File.Exists(KubeletConfigLoader.DefaultConfigPath) ? KubeletConfigLoader.DefaultConfigPath : null;
        if (configPath is not null)
        {
            WriteVerbose($"Reading the kubelet configuration {configPath}.");
            loaded = RunOnPipeline(ct => KubeletConfigLoader.LoadAsync(configPath, null, null, ct, Log));
            configuration = loaded.Configuration;
        }
        var nodeName = Core.Node.NodeName.Resolve(NodeName);
        var options = configuration is null ? new PodSyncAgentOptions { NodeName = nodeName } : PodSyncAgentOptions.FromConfiguration(configuration, nodeName);
        return options with
        {
            StaticPodPath = StaticPodPath is not null ? ResolveLiteralPath(StaticPodPath) : options.StaticPodPath,
            RuntimeEndpoint = RuntimeEndpoint ?? options.RuntimeEndpoint,
            RootDirectory = RootDirectory is not null ? ResolveLiteralPath(RootDirectory) : options.RootDirectory,
            PodLogsDirectory = PodLogDirectory is not null ? ResolveLiteralPath(PodLogDirectory) : options.PodLogsDirectory,
            StopPodsOnExit = StopPodsOnExit.IsPresent,
            Log = Log,
            ImagePullProgress = new PullProgress(this),
        };
    }

    private sealed class PullProgress(StartKubeletPodSyncCommand cmdlet) : IProgress<ImagePullProgress>
    {
        public void Report(ImagePullProgress value) => cmdlet.Post(() => cmdlet.WriteProgress(new ProgressRecord(1, "Pulling images", $"{value.Image} for {value.PodName}/{value.ContainerName}")
        {
            StatusDescription = value.Phase == ImagePullPhase.Started ? $"pulling {value.Image}" : $"{value.Image}: {value.Phase.ToString().ToLowerInvariant()} after {value.Elapsed.TotalSeconds:0.#} s",
            RecordType = value.Phase == ImagePullPhase.Started ? ProgressRecordType.Processing : ProgressRecordType.Completed,
        }));
    }

    private sealed class Progress(StartKubeletPodSyncCommand cmdlet, int id, string activity) : IProgress<string>
    {
        public void Report(string value) => cmdlet.Post(() => cmdlet.WriteProgress(new ProgressRecord(id, activity, value)));
    }
}
