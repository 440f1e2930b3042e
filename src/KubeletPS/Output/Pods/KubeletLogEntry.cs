namespace KubeletPS.Output;

/// <summary>One line of a container's log, from Get-KubeletContainerLog -AsObject.</summary>
public sealed class KubeletLogEntry
{
    internal KubeletLogEntry(DateTimeOffset timestamp, string stream, string message, string podName, string @namespace, string containerName)
    {
        Timestamp = timestamp;
        Stream = stream;
        Message = message;
        PodName = podName;
        Namespace = @namespace;
        ContainerName = containerName;
    }

    /// <summary>When the runtime received the line (UTC).</summary>
    public DateTimeOffset Timestamp { get; }

    /// <summary>stdout or stderr.</summary>
    public string Stream { get; }

    public string Message { get; }
    public string PodName { get; }
    public string Namespace { get; }
    public string ContainerName { get; }

    public override string ToString() => Message;
}
