using k8s.Models;

namespace KubeletPS.Core.Pods.Config;

/// <summary>
/// A pod definition that could not be used, with where it came from. <paramref name="Changed"/> is when the
/// file was last written: the same error of an unchanged file is the same value, so it is reported once.
/// </summary>
public sealed record PodSourceError(string Source, string Message, string? Path = null, int? Line = null, string? Field = null, DateTime? Changed = null);

/// <summary>
/// The complete desired set of pods from one source at one moment (kubelet's SET operation).
/// <paramref name="Settling"/>: some of the source's definitions are still being written and are
/// neither pods nor errors yet; a later snapshot follows.
/// </summary>
public sealed record PodSourceSnapshot(string Source, IReadOnlyList<V1Pod> Pods, IReadOnlyList<PodSourceError> Errors, bool Settling = false);

/// <summary>A source of desired pods: the static pod folder, the API server.</summary>
public interface IPodSource
{
    string Name { get; }

    /// <summary>Yields a full snapshot at start and after every change, until cancelled.</summary>
    IAsyncEnumerable<PodSourceSnapshot> WatchAsync(CancellationToken cancellationToken);
}

/// <summary>The annotations kubelet puts on pods it did not get from the API server.</summary>
public static class PodAnnotations
{
    public const string ConfigSource = "kubernetes.io/config.source";
    public const string ConfigHash = "kubernetes.io/config.hash";
    public const string ConfigSeen = "kubernetes.io/config.seen";
    public const string ConfigMirror = "kubernetes.io/config.mirror";
}

/// <summary>Finds the API's mirror pod of a static pod (kubelet's pod manager translation of static pod UIDs).</summary>
public interface IMirrorPodLookup
{
    V1Pod? GetMirrorPod(V1Pod staticPod);
}
