namespace KubeletPS.Core.Pods.Eviction;

/// <summary>
/// What the eviction manager asks of the image garbage collector before it evicts a pod for a disk
/// signal (kubelet's eviction.ImageGC): delete every image no container uses (never a pinned one,
/// such as the sandbox image) and say how many bytes that freed.
/// </summary>
public interface IImageGarbageCollector
{
    /// <summary>Deletes all unused images; returns the bytes freed as the runtime reported the images' sizes.</summary>
    Task<long> DeleteUnusedImagesAsync(CancellationToken cancellationToken);
}

/// <summary>
/// What the eviction manager asks of the container garbage collector (kubelet's eviction.ContainerGC):
/// remove every dead container and sandbox that no running pod needs, ignoring the minimum age.
/// </summary>
public interface IContainerGarbageCollector
{
    /// <summary>Removes all unused dead containers and sandboxes.</summary>
    Task DeleteAllUnusedContainersAsync(CancellationToken cancellationToken);
}
