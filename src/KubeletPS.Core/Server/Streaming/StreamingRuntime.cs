using System.Globalization;
using k8s.Models;
using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Runtime;

namespace KubeletPS.Core.Server.Streaming;

/// <summary>
/// A streaming request the kubelet cannot serve, with the status and text kubelet answers
/// (go-restful's WriteError / streaming.WriteError write the message alone, as plain text).
/// </summary>
public sealed class StreamingRequestException(int statusCode, string message, Exception? innerException = null)
    : KubeletException(message, statusCode == 404 ? KubeletErrorKind.NotFound : KubeletErrorKind.Unspecified, null, innerException)
{
    public int StatusCode { get; } = statusCode;
}

/// <summary>
/// What kubelet's GetExec, GetAttach, GetPortForward and RunInContainer do (kubelet_pods.go,
/// kuberuntime_container.go): find the running container, or the ready sandbox, of a pod the
/// kubelet runs, and ask the runtime for a streaming URL or run the command.
/// </summary>
public sealed class StreamingRuntime(IRuntimeService runtime, Func<IReadOnlyList<V1Pod>> pods)
{
    private readonly IRuntimeService _runtime = runtime ?? throw new ArgumentNullException(nameof(runtime));
    private readonly Func<IReadOnlyList<V1Pod>> _pods = pods ?? throw new ArgumentNullException(nameof(pods));

    public IRuntimeService Runtime => _runtime;

    /// <summary>The pod manager's GetPodByName: a pod this kubelet runs, static pods by their own name.</summary>
    public V1Pod? GetPodByName(string podNamespace, string podName) =>
        _pods().FirstOrDefault(p => p.Metadata?.NamespaceProperty == podNamespace && p.Metadata?.Name == podName);

    public async Task<Uri> GetExecAsync(V1Pod pod, string containerName, IReadOnlyList<string> command, StreamingOptions streams, CancellationToken cancellationToken)
    {
        var container = await FindRunningContainerAsync(pod, containerName, cancellationToken).ConfigureAwait(false);
        return await CallAsync(() => _runtime.ExecAsync(container.Id, command, streams, cancellationToken)).ConfigureAwait(false);
    }

    public async Task<Uri> GetAttachAsync(V1Pod pod, string containerName, StreamingOptions streams, CancellationToken cancellationToken)
    {
        var container = await FindRunningContainerAsync(pod, containerName, cancellationToken).ConfigureAwait(false);
        // kuberuntime GetAttach: the TTY setting must match the container's (the runtime checks it).
        return await CallAsync(() => _runtime.AttachAsync(container.Id, streams, cancellationToken)).ConfigureAwait(false);
    }

    public async Task<Uri> GetPortForwardAsync(V1Pod pod, IReadOnlyList<int> ports, CancellationToken cancellationToken)
    {
        var uid = pod.Metadata.Uid;
        var sandboxes = await CallAsync(() => _runtime.ListPodSandboxesAsync(new PodSandboxFilter
        {
            State = PodSandboxState.Ready,
            LabelSelector = new Dictionary<string, string> { [KubeletLabels.PodUid] = uid },
        }, cancellationToken)).ConfigureAwait(false);
        var sandbox = sandboxes.OrderByDescending(s => s.CreatedAt).FirstOrDefault()
            ?? throw new StreamingRequestException(500, $"pod not found (\"{PodFullName(pod)}\")");
        return await CallAsync(() => _runtime.PortForwardAsync(sandbox.Id, ports, cancellationToken)).ConfigureAwait(false);
    }

    /// <summary>
    /// kubelet's RunInContainer: ExecSync without a timeout; stdout then stderr. A non-zero exit
    /// is an error, as the CRI client's ExecSync makes it ("command '…' exited with N: …").
    /// </summary>
    public async Task<byte[]> RunInContainerAsync(V1Pod pod, string containerName, IReadOnlyList<string> command, CancellationToken cancellationToken)
    {
        var container = await FindRunningContainerAsync(pod, containerName, cancellationToken).ConfigureAwait(false);
        var result = await CallAsync(() => _runtime.ExecSyncAsync(container.Id, command, TimeSpan.Zero, cancellationToken)).ConfigureAwait(false);
        if (result.ExitCode != 0)
        {
            throw new StreamingRequestException(500, string.Create(CultureInfo.InvariantCulture,
                $"command '{string.Join(' ', command)}' exited with {result.ExitCode}: {result.Stderr}"));
        }

        return System.Text.Encoding.UTF8.GetBytes(result.Stdout + result.Stderr);
    }

    /// <summary>kubecontainer.GetPodFullName: name_namespace.</summary>
    public static string PodFullName(V1Pod pod)
    {
        ArgumentNullException.ThrowIfNull(pod);
        return $"{pod.Metadata.Name}_{pod.Metadata.NamespaceProperty}";
    }

    /// <summary>
    /// kubelet's findContainer over the running pods (GetPods(false)): the pod found by its full name and the container by
    /// name. A UID in the path (/exec/{ns}/{pod}/{uid}/{container}) does not choose the pod: FindPod looks a pod up by UID
    /// only when no name is given, so a path naming one pod and another's UID reaches the named pod alone.
    /// </summary>
    private async Task<ContainerInfo> FindRunningContainerAsync(V1Pod pod, string containerName, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(pod);
        var uid = pod.Metadata.Uid;
        var containers = await CallAsync(() => _runtime.ListContainersAsync(new ContainerFilter
        {
            State = ContainerState.Running,
            LabelSelector = new Dictionary<string, string> { [KubeletLabels.PodUid] = uid, [KubeletLabels.ContainerName] = containerName },
        }, cancellationToken)).ConfigureAwait(false);
        return containers.OrderByDescending(c => c.Attempt).FirstOrDefault()
            ?? throw new StreamingRequestException(500, $"container not found (\"{containerName}\")");
    }

    /// <summary>streaming.WriteError: a gRPC status maps to its HTTP status, the text is the error.</summary>
    private static async Task<T> CallAsync<T>(Func<Task<T>> call)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (KubeletRuntimeException e)
        {
            var status = e.Kind switch
            {
                RuntimeErrorKind.NotFound => 404,
                RuntimeErrorKind.Timeout => 504,
                RuntimeErrorKind.Unimplemented => 501,
                RuntimeErrorKind.ConnectionFailed or RuntimeErrorKind.EndpointMissing or RuntimeErrorKind.RuntimeNotReady => 503,
                _ => 500,
            };
            throw new StreamingRequestException(status, e.Message, e);
        }
    }
}
