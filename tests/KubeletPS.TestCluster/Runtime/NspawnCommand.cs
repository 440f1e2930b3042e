using System.Globalization;
using System.Runtime.InteropServices;

namespace KubeletPS.TestCluster.Runtime;

/// <summary>
/// <c>nspawn --name NAME [--bind-ro PATH]... [--import-images]</c>: boots a systemd machine (<see cref="NspawnMachine"/>),
/// with --import-images waits for its containerd and imports the test images into it, and keeps it
/// until Ctrl+C or SIGTERM, then powers it off and removes it. Prints "nspawn ready pid=… root=… boot=…s build=…s"
/// (pid: systemd's, for nsenter -t), or "nspawn cannot run: …" with exit code 3 where nspawn cannot run.
/// </summary>
public static class NspawnCommand
{
    private const string Usage = "usage: nspawn --name NAME [--bind-ro PATH]... [--import-images]";

    public static async Task<int> RunAsync(string[] args)
    {
        string? name = null;
        var binds = new List<string>();
        var importImages = false;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--name" when i + 1 < args.Length:
                    name = args[++i];
                    break;
                case "--bind-ro" when i + 1 < args.Length:
                    binds.Add(args[++i]);
                    break;
                case "--import-images":
                    importImages = true;
                    break;
                case "-h" or "--help":
                    Console.WriteLine(Usage);
                    return 0;
                default:
                    Console.Error.WriteLine($"nspawn: unknown argument {args[i]}; {Usage}");
                    return 2;
            }
        }
        if (name is null)
        {
            Console.Error.WriteLine($"nspawn: --name is required; {Usage}");
            return 2;
        }
        if (NspawnMachine.CannotRunReason() is { } reason)
        {
            Console.WriteLine($"nspawn cannot run: {reason}");
            return 3;
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

        NspawnMachine machine;
        TimeSpan build;
        try
        {
            build = await NspawnMachine.EnsureRootAsync(stop.Token);
            machine = await NspawnMachine.StartAsync(name, binds, stop.Token);
        }
        catch (OperationCanceledException)
        {
            return 130;
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"nspawn: {ex.Message}");
            return 1;
        }

        await using (machine)
        {
            if (importImages)
            {
                try
                {
                    await machine.ImportImagesAsync(stop.Token);
                }
                catch (OperationCanceledException)
                {
                    return 130;
                }
                catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or IOException or UnauthorizedAccessException)
                {
                    Console.Error.WriteLine($"nspawn: {ex.Message}");
                    return 1;
                }
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"nspawn ready pid={machine.SystemdPid} nspawn={machine.NspawnPid} root={machine.Root} boot={machine.BootTime.TotalSeconds:0.000}s build={build.TotalSeconds:0.0}s"));
            try
            {
                await Task.Delay(Timeout.Infinite, stop.Token);
            }
            catch (OperationCanceledException)
            {
            }
            Console.WriteLine("nspawn stopping");
        }
        Console.WriteLine("nspawn stopped");
        return 0;
    }
}
