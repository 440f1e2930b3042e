using KubeletPS.Core.Pods.Volumes;
using KubeletPS.Core.Runtime;

namespace KubeletPS.Core.Pods.KubeRuntime;

// A killed pod's leftovers, removed as its worker ends. Dead instances and old sandboxes of live pods
// are the node-wide collector's (Pods/Gc/ContainerGc.cs, kubelet's kuberuntime_gc.go), every minute.
public sealed partial class KubeGenericRuntimeManager
{
    /// <summary>Removes what is left of a killed pod: containers, sandboxes, its directories and logs.</summary>
    public async Task RemovePodAsync(RuntimePodStatus status, string? logDirectory, CancellationToken ct)
    {
        foreach (var container in status.Containers)
        {
            try { await _runtime.RemoveContainerAsync(container.Id, ct).ConfigureAwait(false); }
            catch (KubeletRuntimeException e) when (e.Kind == RuntimeErrorKind.NotFound) { }
        }
        foreach (var sandbox in status.Sandboxes)
        {
            try { await _runtime.RemovePodSandboxAsync(sandbox.Id, ct).ConfigureAwait(false); }
            catch (KubeletRuntimeException e) when (e.Kind == RuntimeErrorKind.NotFound) { }
        }
        TryDelete(_volumes.PodDirectory(status.Uid));
        if (logDirectory is not null) TryDelete(logDirectory);
        _backOff.ForgetPod(status.Uid);
        _images.ForgetPod(status.Uid);
        _volumes.ForgetPod(status.Uid);
    }

    /// <summary>
    /// Removes a pod's directory; anything still mounted under it (a subPath bind mount, a tmpfs) is
    /// unmounted first, and the directory is kept rather than deleted through a mount.
    /// </summary>
    private static void TryDelete(string directory)
    {
        try { HostMounts.RemoveDirectory(directory); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }
}
