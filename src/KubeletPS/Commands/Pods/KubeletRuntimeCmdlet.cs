using System.Management.Automation;
using KubeletPS.Core;
using KubeletPS.Core.Runtime;
using KubeletPS.Core.Runtime.Remote;

namespace KubeletPS.Commands;

/// <summary>
/// Base of the cmdlets that read the container runtime: -RuntimeEndpoint and -ConfigPath, the
/// connection resolved once (BeginProcessing), and runtime failures as terminating errors that
/// name the endpoint (the socket is missing, nothing answers, the runtime is not ready).
/// </summary>
public abstract class KubeletRuntimeCmdlet : KubeletCmdlet
{
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? RuntimeEndpoint { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ConfigPath { get; set; }

    private protected RuntimeConnection Connection => _connection ?? throw new InvalidOperationException("BeginProcessing resolves the connection.");
    private RuntimeConnection? _connection;

    /// <summary>The ErrorIds of this cmdlet, in the order: unavailable, not ready, other runtime error, invalid endpoint, invalid config.</summary>
    private protected abstract (string Unavailable, string NotReady, string Other, string InvalidEndpoint, string InvalidConfig) RuntimeErrorIds { get; }

    protected override void BeginProcessing()
    {
        var configPath = ConfigPath is null ? null : ResolveLiteralPath(ConfigPath);
        try
        {
            _connection = RunOnPipeline(ct => RuntimeConnection.ResolveAsync(RuntimeEndpoint, configPath, ct, Log));
        }
        catch (KubeletConfigException e)
        {
            ThrowTerminatingError(EngineError(e, RuntimeErrorIds.InvalidConfig, e.Path));
        }
        catch (ArgumentException e)
        {
            ThrowTerminatingError(new ErrorRecord(e, RuntimeErrorIds.InvalidEndpoint, ErrorCategory.InvalidArgument, RuntimeEndpoint));
        }
    }

    /// <summary>Stops the command with the runtime's failure; the message names the endpoint.</summary>
    private protected void ThrowRuntimeError(KubeletRuntimeException e)
    {
        var ids = RuntimeErrorIds;
        var id = e.Kind switch
        {
            RuntimeErrorKind.EndpointMissing or RuntimeErrorKind.ConnectionFailed => ids.Unavailable,
            RuntimeErrorKind.RuntimeNotReady => ids.NotReady,
            _ => ids.Other,
        };
        ThrowTerminatingError(EngineError(e, id, e.Endpoint));
    }
}
