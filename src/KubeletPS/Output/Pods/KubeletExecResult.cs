namespace KubeletPS.Output;

/// <summary>What a command run in a container (CRI ExecSync) printed and how it ended; a non-zero exit is a result, not an error.</summary>
public sealed class KubeletExecResult
{
    internal KubeletExecResult(string pod, string ns, string container, string containerId, string[] command, int exitCode, string stdout, string stderr)
    {
        Pod = pod;
        Namespace = ns;
        Container = container;
        ContainerId = containerId;
        Command = command;
        ExitCode = exitCode;
        Stdout = stdout;
        Stderr = stderr;
    }

    public string Pod { get; }
    public string Namespace { get; }
    public string Container { get; }
    public string ContainerId { get; }
    public string[] Command { get; }
    public int ExitCode { get; }
    public string Stdout { get; }
    public string Stderr { get; }

    /// <summary>True when the command exited 0.</summary>
    public bool Succeeded => ExitCode == 0;

    public override string ToString() => Stdout;
}
