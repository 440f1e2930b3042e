using System.Management.Automation;
using System.Text;
using KubeletPS.Core;
using KubeletPS.Core.Pods.Inventory;
using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Runtime;
using KubeletPS.Core.Runtime.Logs;
using KubeletPS.Core.Server.Endpoints;
using KubeletPS.Output;

namespace KubeletPS.Commands;

/// <summary>
/// Get-KubeletContainerLog: a container's log from the file the runtime writes on this node,
/// like kubectl logs (-f, --tail, --previous, --timestamps, --limit-bytes, --since, --since-time), without the API server.
/// The options mean what they mean to the kubelet server's /containerLogs: the same <see cref="ContainerLogRequest"/>
/// checks and the same <see cref="ContainerLogOutput"/> (timestamps, limitBytes) as the server writes.
/// </summary>
// The Container set is the default because PowerShell binds pipeline input to the default set
// first: with Name as default, a piped KubeletContainerInfo bound its PodName there and lost its Name.
[Cmdlet(VerbsCommon.Get, "KubeletContainerLog", DefaultParameterSetName = ContainerSet)]
[OutputType(typeof(string), typeof(KubeletLogEntry))]
public sealed class GetKubeletContainerLogCommand : KubeletRuntimeCmdlet
{
    private const string NameSet = "Name";
    private const string ContainerSet = "Container";

    /// <summary>The pod; a KubeletPodInfo piped in binds its Name here.</summary>
    [Parameter(ParameterSetName = NameSet, Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("Name")]
    [ValidateNotNullOrEmpty]
    public string? PodName { get; set; }

    [Parameter(ParameterSetName = NameSet, Position = 1, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string? ContainerName { get; set; }

    /// <summary>A container from Get-KubeletPod's Containers, piped in.</summary>
    [Parameter(ParameterSetName = ContainerSet, Mandatory = true, ValueFromPipeline = true)]
    public KubeletContainerInfo? Container { get; set; }

    [Parameter(ParameterSetName = NameSet, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string? Namespace { get; set; }

    [Parameter]
    [ValidateRange(0, int.MaxValue)]
    public int? Tail { get; set; }

    [Parameter]
    public SwitchParameter Follow { get; set; }

    [Parameter]
    public SwitchParameter Previous { get; set; }

    [Parameter]
    public SwitchParameter Timestamps { get; set; }

    [Parameter]
    public SwitchParameter AsObject { get; set; }

    /// <summary>kubectl logs --limit-bytes: stop after this many bytes of output (the last line may be cut).</summary>
    [Parameter]
    [ValidateRange(1, long.MaxValue)]
    public long? LimitBytes { get; set; }

    /// <summary>kubectl logs --since: only lines newer than this long ago (whole seconds, at least one).</summary>
    [Parameter]
    public TimeSpan? Since { get; set; }

    /// <summary>kubectl logs --since-time: only lines written at or after this time.</summary>
    [Parameter]
    public DateTime? SinceTime { get; set; }

    private protected override (string, string, string, string, string) RuntimeErrorIds =>
        (ErrorIds.GetKubeletContainerLogRuntimeUnavailable, ErrorIds.GetKubeletContainerLogRuntimeNotReady, ErrorIds.GetKubeletContainerLogRuntimeError,
         ErrorIds.GetKubeletContainerLogInvalidEndpoint, ErrorIds.GetKubeletContainerLogInvalidConfig);

    protected override void ProcessRecord()
    {
        var query = Container is { } c
            ? new ContainerLogQuery(c.PodName, c.Namespace, c.Name, Previous)
            : new ContainerLogQuery(PodName!, Namespace, ContainerName, Previous);
        ContainerLogRequest request;
        try
        {
            request = ContainerLogRequest.Create(Follow, Previous, Timestamps && !AsObject, Tail, LimitBytes, Since, AsPointInTime(SinceTime), DateTimeOffset.UtcNow);
        }
        catch (ArgumentException e)
        {
            ThrowTerminatingError(new ErrorRecord(e, ErrorIds.GetKubeletContainerLogInvalidArgument, ErrorCategory.InvalidArgument,
                e.ParamName switch { "since" => Since, "limitBytes" => LimitBytes, _ => Tail }));
            return;
        }
        try
        {
            RunOnPipeline(async ct =>
            {
                await using var client = Connection.CreateClient();
                var inventory = new RuntimePodInventory(client, log: Log);
                var source = await inventory.FindContainerLogAsync(query, ct).ConfigureAwait(false);
                // As kubectl: following a container that is no longer running prints what there is and ends.
                var follow = Follow.IsPresent && !Previous.IsPresent && source.State == PodContainerState.Running;
                if (Follow.IsPresent && !follow)
                {
                    Log.Info($"Container {source.ContainerName} of pod {source.Namespace}/{source.PodName} is not running: not following.");
                }
                Log.Info($"Reading {source.LogPath} (container {source.ContainerId}, attempt {source.Attempt}).");
                var options = new ContainerLogReadOptions
                {
                    Tail = request.TailLines,
                    Follow = follow,
                    Since = request.Since,
                    OnMalformedLine = line => Log.Debug($"Skipped a line not in CRI log format: {line}"),
                    OnUnreadableFile = (file, reason) => Log.Debug($"Skipped the rotated log file {file}: {reason}"),
                };
                var written = new ContainerLogOutput(request);
                await foreach (var entry in ContainerLogReader.ReadAsync(source.LogPath, options, ct).ConfigureAwait(false))
                {
                    // What the kubelet server would write for this line, one line without its newline (cut at -LimitBytes).
                    var text = Encoding.UTF8.GetString(written.Next(entry).Span);
                    if (text.EndsWith('\n')) text = text[..^1];
                    object output = AsObject.IsPresent
                        ? new KubeletLogEntry(entry.Timestamp, entry.Stream == ContainerLogStream.Stderr ? "stderr" : "stdout", text, source.PodName, source.Namespace, source.ContainerName)
                        : text;
                    Post(() => WriteObject(output));
                    if (written.Done) break;
                }
            });
        }
        catch (OperationCanceledException) when (CancellationToken.IsCancellationRequested)
        {
            // Ctrl+C while following: the normal way to end.
        }
        catch (KubeletRuntimeException e)
        {
            ThrowRuntimeError(e);
        }
        catch (ContainerLogLookupException e)
        {
            WriteError(EngineError(e, ErrorIdFor(e.Problem), e.Target));
        }
        catch (FileNotFoundException e)
        {
            WriteError(EngineError(new FileNotFoundException($"The log file of container {query.ContainerName ?? "(default)"} in pod {query.PodName} does not exist: {e.FileName}. The runtime may have removed it with the container.", e.FileName, e),
                ErrorIds.GetKubeletContainerLogFileNotFound, e.FileName));
        }
    }

    private static string ErrorIdFor(ContainerLogLookupProblem problem) => problem switch
    {
        ContainerLogLookupProblem.PodNotFound => ErrorIds.GetKubeletContainerLogPodNotFound,
        ContainerLogLookupProblem.PodAmbiguous => ErrorIds.GetKubeletContainerLogPodAmbiguous,
        ContainerLogLookupProblem.ContainerNameRequired => ErrorIds.GetKubeletContainerLogContainerNameRequired,
        ContainerLogLookupProblem.PreviousNotFound => ErrorIds.GetKubeletContainerLogPreviousNotFound,
        _ => ErrorIds.GetKubeletContainerLogContainerNotFound,
    };
}
