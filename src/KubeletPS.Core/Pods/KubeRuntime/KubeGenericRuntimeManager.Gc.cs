using KubeletPS.Core.Pods.Volumes;
using KubeletPS.Core.Runtime;

namespace KubeletPS.Core.Pods.KubeRuntime;

// Kubelet's kuberuntime_gc.go for one pod: dead instances, old sandboxes, a removed pod's leftovers.
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

    /// <summary>Kubelet's container GC for one pod: one dead instance kept per container, old sandboxes removed.</summary>
    private async Task<bool> RemoveDeadInstancesAsync(RuntimePodStatus status, string currentSandboxId, CancellationToken ct)
    {
        var removed = false;
        foreach (var group in status.Containers.GroupBy(c => c.Name))
        {
            foreach (var dead in group.Skip(2).Where(c => c.State == ContainerState.Exited))
            {
                removed = true;
                try { await _runtime.RemoveContainerAsync(dead.Id, ct).ConfigureAwait(false); }
                catch (KubeletRuntimeException e) when (e.Kind == RuntimeErrorKind.NotFound) { }
            }
        }
        foreach (var old in status.Sandboxes.Where(s => s.Id != currentSandboxId && s.State != PodSandboxState.Ready))
        {
            if (status.Containers.Any(c => c.PodSandboxId == old.Id && c.State == ContainerState.Running)) continue;
            try
            {
                foreach (var c in status.Containers.Where(c => c.PodSandboxId == old.Id && status.Latest(c.Name)?.Id != c.Id && status.Previous(c.Name)?.Id != c.Id))
                {
                    removed = true;
                    await _runtime.RemoveContainerAsync(c.Id, ct).ConfigureAwait(false);
                }
                if (!status.Containers.Any(c => c.PodSandboxId == old.Id && (status.Latest(c.Name)?.Id == c.Id || status.Previous(c.Name)?.Id == c.Id)))
                {
                    removed = true;
                    await _runtime.RemovePodSandboxAsync(old.Id, ct).ConfigureAwait(false);
                }
            }
            catch (KubeletRuntimeException e) when (e.Kind == RuntimeErrorKind.NotFound) { }
        }
        return removed;
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
