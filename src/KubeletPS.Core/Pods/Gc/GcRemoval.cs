namespace KubeletPS.Core.Pods.Gc;

/// <summary>What a garbage collection pass removes.</summary>
public enum GcObjectKind
{
    Image,
    Container,
    Sandbox,
    PodLogDirectory,
    PodDirectory,
}

/// <summary>
/// One thing a garbage collection pass removed, or would remove in a dry run (<see cref="Removed"/>
/// false), and why, in kubelet's terms. <see cref="Error"/> is set when the removal failed.
/// </summary>
/// <param name="Kind">Image, container, sandbox or directory.</param>
/// <param name="Id">The image id, container or sandbox id, or the directory path.</param>
/// <param name="Name">The image's first tag, the container or sandbox name; the pod's uid for a directory.</param>
/// <param name="PodUid">The pod the object belonged to; empty for an image.</param>
/// <param name="Reason">Why it goes (kubelet's reasons: space, age, evict unit limit, pod removed…).</param>
/// <param name="SizeBytes">An image's size as the runtime reports it; 0 for the rest.</param>
/// <param name="Removed">False in a dry run or when the removal failed.</param>
/// <param name="Error">The runtime's or file system's error, when removal failed.</param>
public sealed record GcRemoval(GcObjectKind Kind, string Id, string Name, string PodUid, string Reason, long SizeBytes, bool Removed, string? Error = null);

/// <summary>Whether a pass removes what it finds or only reports it (the cmdlet's -WhatIf).</summary>
public enum GcMode
{
    Remove,
    DryRun,
}
