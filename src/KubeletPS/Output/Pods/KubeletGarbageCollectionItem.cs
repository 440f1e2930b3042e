using KubeletPS.Core.Pods.Gc;

namespace KubeletPS.Output;

/// <summary>
/// One image, container or sandbox Invoke-KubeletGarbageCollection removed, or with -WhatIf would
/// remove (<see cref="Removed"/> false), and kubelet's reason for it.
/// </summary>
public sealed class KubeletGarbageCollectionItem
{
    internal KubeletGarbageCollectionItem(GcRemoval removal)
    {
        Kind = removal.Kind.ToString();
        Id = removal.Id;
        Name = removal.Name;
        PodUid = removal.PodUid;
        Reason = removal.Reason;
        SizeBytes = removal.SizeBytes;
        Removed = removal.Removed;
        Error = removal.Error;
    }

    /// <summary>Image, Container, Sandbox, PodLogDirectory or PodDirectory.</summary>
    public string Kind { get; }

    /// <summary>The image id, container or sandbox id, or the directory.</summary>
    public string Id { get; }

    /// <summary>The image's first tag, or the container's or sandbox's name.</summary>
    public string Name { get; }

    /// <summary>The pod it belonged to; empty for an image.</summary>
    public string PodUid { get; }

    public string Reason { get; }

    /// <summary>An image's size as the runtime reports it; 0 otherwise.</summary>
    public long SizeBytes { get; }

    /// <summary>False with -WhatIf or when the removal failed (then <see cref="Error"/> says why).</summary>
    public bool Removed { get; }

    public string? Error { get; }
}
