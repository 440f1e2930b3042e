namespace KubeletPS.TestCluster.Server.Controllers;

/// <summary>
/// A controller's loop run in the background from <see cref="Start"/> until <see cref="DisposeAsync"/>, as
/// kube-controller-manager runs its controllers; the loop ends when its token is cancelled.
/// </summary>
internal sealed class ControllerLoop(Func<CancellationToken, Task> run) : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private Task? _run;

    public void Start() => _run ??= Task.Run(() => run(_stop.Token));

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_run is not null) await _run.ConfigureAwait(false);
        _stop.Dispose();
    }
}
