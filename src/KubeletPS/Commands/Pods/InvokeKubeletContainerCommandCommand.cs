using System.Management.Automation;
using KubeletPS.Core;
using KubeletPS.Core.Pods.Inventory;
using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Runtime;
using KubeletPS.Output;

namespace KubeletPS.Commands;

/// <summary>
/// Invoke-KubeletContainerCommand: runs a command in a container on this node through CRI ExecSync,
/// like crictl exec (or kubectl exec without a TTY), and returns its output and exit code. A
/// non-zero exit is a result; a command that outlives -Timeout is an OperationTimeout error.
/// </summary>
[Cmdlet(VerbsLifecycle.Invoke, "KubeletContainerCommand", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(KubeletExecResult))]
public sealed class InvokeKubeletContainerCommandCommand : KubeletRuntimeCmdlet
{
    /// <summary>The pod; a KubeletPodInfo piped in binds its Name (and Namespace).</summary>
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [Alias("Name", "PodName")]
    [ValidateNotNullOrEmpty]
    public string? Pod { get; set; }

    /// <summary>The container; by default the pod's only app container.</summary>
    [Parameter]
    [Alias("ContainerName")]
    [ValidateNotNullOrEmpty]
    public string? Container { get; set; }

    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string[]? Command { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string? Namespace { get; set; }

    /// <summary>Seconds the command may run; 0 (the default) waits for it, as crictl exec does.</summary>
    [Parameter]
    [ValidateRange(0, int.MaxValue)]
    public int Timeout { get; set; }

    private protected override (string, string, string, string, string) RuntimeErrorIds =>
        (ErrorIds.InvokeKubeletContainerCommandRuntimeUnavailable, ErrorIds.InvokeKubeletContainerCommandRuntimeNotReady, ErrorIds.InvokeKubeletContainerCommandRuntimeError,
         ErrorIds.InvokeKubeletContainerCommandInvalidEndpoint, ErrorIds.InvokeKubeletContainerCommandInvalidConfig);

    protected override void ProcessRecord()
    {
        var command = Command!;
        var shown = string.Join(' ', command);
        try
        {
            RunOnPipeline(async ct =>
            {
                await using var client = Connection.CreateClient();
                var inventory = new RuntimePodInventory(client, log: Log);
                var target = await inventory.FindContainerLogAsync(new ContainerLogQuery(Pod!, Namespace, Container), ct).ConfigureAwait(false);
                var where = $"{target.Namespace}/{target.PodName}/{target.ContainerName}";
                if (target.State != PodContainerState.Running)
                {
                    Post(() => WriteError(new ErrorRecord(
                        new InvalidOperationException($"container \"{target.ContainerName}\" in pod \"{target.PodName}\" is not running ({target.State}): a command can only run in a running container"),
                        ErrorIds.InvokeKubeletContainerCommandContainerNotRunning, ErrorCategory.ResourceUnavailable, where)));
                    return;
                }
                if (!await AskAsync($"container {where}", $"Run '{shown}'").ConfigureAwait(false)) return;
                Log.Info($"ExecSync in container {target.ContainerId} ({where}): {shown}" + (Timeout > 0 ? $", timeout {Timeout}s" : ""));
                try
                {
                    var result = await client.ExecSyncAsync(target.ContainerId, command, TimeSpan.FromSeconds(Timeout), ct).ConfigureAwait(false);
                    var output = new KubeletExecResult(target.PodName, target.Namespace, target.ContainerName, target.ContainerId, command, result.ExitCode, result.Stdout, result.Stderr);
                    Post(() => WriteObject(output));
                }
                catch (KubeletRuntimeException e) when (e.Kind == RuntimeErrorKind.Timeout && Timeout > 0)
                {
                    Post(() => WriteError(EngineError(new TimeoutException($"command '{shown}' in container {where} did not finish within {Timeout}s; the runtime ended it.", e),
                        ErrorIds.InvokeKubeletContainerCommandTimeout, where)));
                }
                catch (KubeletRuntimeException e) when (e.Kind is RuntimeErrorKind.RuntimeError or RuntimeErrorKind.NotFound)
                {
                    // The command could not be started (no such executable…): the runtime's message says why.
                    Post(() => WriteError(EngineError(e, ErrorIds.InvokeKubeletContainerCommandFailed, where)));
                }
            });
        }
        catch (KubeletRuntimeException e)
        {
            ThrowRuntimeError(e);
        }
        catch (ContainerLogLookupException e)
        {
            WriteError(EngineError(e, e.Problem switch
            {
                ContainerLogLookupProblem.PodNotFound => ErrorIds.InvokeKubeletContainerCommandPodNotFound,
                ContainerLogLookupProblem.PodAmbiguous => ErrorIds.InvokeKubeletContainerCommandPodAmbiguous,
                ContainerLogLookupProblem.ContainerNameRequired => ErrorIds.InvokeKubeletContainerCommandContainerNameRequired,
                _ => ErrorIds.InvokeKubeletContainerCommandContainerNotFound,
            }, e.Target));
        }
    }
}
