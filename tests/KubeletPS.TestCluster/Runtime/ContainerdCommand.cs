using System.Runtime.InteropServices;

namespace KubeletPS.TestCluster.Runtime;

/// <summary>
/// <c>containerd --dir DIR [--no-images] [--snapshotter overlayfs|native]</c>: runs a private containerd
/// with the busybox and pause images until Ctrl+C or SIGTERM, then removes everything it started.
/// </summary>
public static class ContainerdCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        string? dir = null;
        string? snapshotter = null;
        var importImages = true;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--dir" when i + 1 < args.Length:
                    dir = args[++i];
                    break;
                case "--snapshotter" when i + 1 < args.Length:
                    snapshotter = args[++i];
                    break;
                case "--no-images":
                    importImages = false;
                    break;
                case "-h" or "--help":
                    Console.WriteLine("usage: containerd --dir DIR [--no-images] [--snapshotter overlayfs|native]");
                    return 0;
                default:
                    Console.Error.WriteLine($"containerd: unknown argument {args[i]}; usage: containerd --dir DIR [--no-images] [--snapshotter overlayfs|native]");
                    return 2;
            }
        }

        if (dir is null)
        {
            Console.Error.WriteLine("containerd: --dir DIR is required (a directory for containerd's root, state, socket and logs)");
            return 2;
        }

        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            stop.Cancel();
        };
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            stop.Cancel();
        });

        PrivateContainerd containerd;
        try
        {
            containerd = await PrivateContainerd.StartAsync(dir, new PrivateContainerdOptions { ImportImages = importImages, Snapshotter = snapshotter }, stop.Token);
        }
        catch (OperationCanceledException)
        {
            return 130;
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or ArgumentException or IOException)
        {
            Console.Error.WriteLine($"containerd: {ex.Message}");
            return 1;
        }

        await using (containerd)
        {
            Console.WriteLine($"containerd ready endpoint={containerd.Endpoint} snapshotter={containerd.Snapshotter} bridge={containerd.BridgeName} subnet={containerd.Subnet} log={containerd.LogPath} images={(importImages ? $"{containerd.BusyboxImage},{containerd.PauseImage}" : "none")}");
            try
            {
                await Task.Delay(Timeout.Infinite, stop.Token);
            }
            catch (OperationCanceledException)
            {
            }

            Console.WriteLine("containerd stopping");
        }

        Console.WriteLine("containerd stopped");
        return 0;
    }
}
