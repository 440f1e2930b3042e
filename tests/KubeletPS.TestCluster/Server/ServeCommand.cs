using System.Runtime.InteropServices;
using KubeletPS.TestCluster.Auth;

namespace KubeletPS.TestCluster.Server;

/// <summary>
/// <c>serve --dir DIR [--node NAME]... [--port N] [--verbose]</c>: runs the test API server until Ctrl+C or SIGTERM, after
/// writing DIR/ca.crt, DIR/admin.conf and DIR/node-NAME.conf for each node.
/// </summary>
public static class ServeCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        string? dir = null;
        var port = 0;
        var verbose = false;
        var nodes = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--dir": dir = Value(); break;
                case "--node": nodes.Add(Value()); break;
                case "--port": port = int.Parse(Value(), System.Globalization.CultureInfo.InvariantCulture); break;
                case "--verbose": verbose = true; break;
                case "-h" or "--help":
                    Console.WriteLine("usage: KubeletPS.TestCluster [serve] --dir DIR [--node NAME]... [--port N] [--verbose]");
                    return 0;
                default:
                    Console.Error.WriteLine($"unknown argument: {args[i]}");
                    return 2;
            }
        }
        if (dir is null)
        {
            Console.Error.WriteLine("--dir is required");
            return 2;
        }

        await using var server = await TestApiServer.StartAsync(new TestApiServerOptions
        {
            Port = port,
            MinimumLogLevel = verbose ? Microsoft.Extensions.Logging.LogLevel.Information : Microsoft.Extensions.Logging.LogLevel.Warning,
        });
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "ca.crt"), server.CaPem);
        server.WriteAdminKubeconfig(Path.Combine(dir, "admin.conf"));
        foreach (var node in nodes) server.WriteNodeKubeconfig(Path.Combine(dir, $"node-{node}.conf"), node);

        using var stop = new CancellationTokenSource();
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        Console.WriteLine($"test apiserver ready at {server.Url} (kubeconfig: {Path.Combine(dir, "admin.conf")}, users: kubernetes-admin{string.Concat(nodes.Select(n => ", " + UserInfo.NodeUserPrefix + n))})");
        try
        {
            await Task.Delay(Timeout.Infinite, stop.Token);
        }
        catch (OperationCanceledException)
        {
        }
        return 0;
    }
}
