using System.Runtime.InteropServices;
using KubeletPS.TestCluster.Auth;
using KubeletPS.TestCluster.Server.Controllers;

namespace KubeletPS.TestCluster.Server;

/// <summary>
/// <c>serve --dir DIR [--node NAME]... [--expired-node NAME]... [--port N] [--bootstrap-kubeconfig PATH] [--client-cert-ttl DURATION] [--kubelet-config PATH|kubeadm]
/// [--feature-gates PortForwardWebsockets=true|false] [--node-monitor-grace-period DURATION] [--print-join-command] [--verbose]</c> (<see cref="Usage"/>):
/// runs the test API server until Ctrl+C or SIGTERM, after writing DIR/ca.crt, DIR/admin.conf, DIR/node-NAME.conf for each
/// node, DIR/node-NAME-expired.conf (a client certificate that expired 35 days ago) for each --expired-node and, with
/// --bootstrap-kubeconfig, a bootstrap kubeconfig holding a fresh bootstrap token. --kubelet-config publishes
/// the kubelet-config ConfigMap (a file's KubeletConfiguration, or kubeadm's); --print-join-command creates a token and
/// prints the Join-KubeletCluster command that uses it, as kubeadm token create --print-join-command does.
/// </summary>
public static class ServeCommand
{
    /// <summary>What <c>serve --help</c> prints: every option <see cref="RunAsync"/> takes.</summary>
    public const string Usage = """
        usage: KubeletPS.TestCluster [serve] --dir DIR [options]
          --dir DIR                        where ca.crt, admin.conf and the node kubeconfigs are written (required)
          --node NAME                      write DIR/node-NAME.conf, a client certificate for system:node:NAME (repeatable)
          --expired-node NAME              write DIR/node-NAME-expired.conf, a certificate that expired 35 days ago (repeatable)
          --port N                         listen on 127.0.0.1:N (default 0: a free port)
          --bootstrap-kubeconfig PATH      write a bootstrap kubeconfig holding a fresh bootstrap token
          --client-cert-ttl DURATION       lifetime of the certificates the signer issues (default 8760h)
          --kubelet-config PATH|kubeadm    publish the kubelet-config ConfigMap (a file's KubeletConfiguration, or kubeadm's)
          --feature-gates PortForwardWebsockets=true|false
                                           tunnel pods/portforward WebSockets to the kubelet's SPDY (default true, as kube-apiserver 1.31+)
          --node-monitor-grace-period DURATION
                                           mark a node Unknown when its heartbeat is not seen for this long (default: no node health monitor;
                                           kube-controller-manager's is 40s)
          --print-join-command             create a token and print the Join-KubeletCluster command that uses it
          --verbose                        log requests at Information level
          -h, --help                       print this help
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        string? dir = null;
        var port = 0;
        var verbose = false;
        var nodes = new List<string>();
        var expiredNodes = new List<string>();
        string? bootstrapKubeconfig = null;
        TimeSpan? clientCertTtl = null;
        string? kubeletConfig = null;
        var printJoinCommand = false;
        var portForwardWebsockets = new TestApiServerOptions().PortForwardWebsockets;
        TimeSpan? nodeMonitorGracePeriod = null;
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--dir": dir = Value(); break;
                case "--node": nodes.Add(Value()); break;
                case "--expired-node": expiredNodes.Add(Value()); break;
                case "--port": port = int.Parse(Value(), System.Globalization.CultureInfo.InvariantCulture); break;
                case "--verbose": verbose = true; break;
                case "--bootstrap-kubeconfig": bootstrapKubeconfig = Value(); break;
                case "--kubelet-config":
                    var source = Value();
                    kubeletConfig = source == "kubeadm" ? ClusterInfoPublisher.KubeadmKubeletConfiguration : File.ReadAllText(source);
                    break;
                case "--print-join-command": printJoinCommand = true; break;
                case "--feature-gates":
                    var gates = Value();
                    if (!TryParsePortForwardGate(gates, ref portForwardWebsockets))
                    {
                        Console.Error.WriteLine($"--feature-gates: \"{gates}\" is not PortForwardWebsockets=true or PortForwardWebsockets=false (the only gate this server has)");
                        return 2;
                    }
                    break;
                case "--node-monitor-grace-period":
                    if (PositiveDuration(args[i], Value(), "40s, 1m") is not { } grace) return 2;
                    nodeMonitorGracePeriod = grace;
                    break;
                case "--client-cert-ttl":
                    if (PositiveDuration(args[i], Value(), "3m, 1h, 8760h") is not { } ttl) return 2;
                    clientCertTtl = ttl;
                    break;
                case "-h" or "--help":
                    Console.WriteLine(Usage);
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

        var defaults = new TestApiServerOptions();
        await using var server = await TestApiServer.StartAsync(new TestApiServerOptions
        {
            Port = port,
            ClientCertificateTtl = clientCertTtl ?? defaults.ClientCertificateTtl,
            KubeletConfiguration = kubeletConfig,
            PortForwardWebsockets = portForwardWebsockets,
            NodeMonitorGracePeriod = nodeMonitorGracePeriod,
            MinimumLogLevel = verbose ? Microsoft.Extensions.Logging.LogLevel.Information : Microsoft.Extensions.Logging.LogLevel.Warning,
        });
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "ca.crt"), server.CaPem);
        server.WriteAdminKubeconfig(Path.Combine(dir, "admin.conf"));
        foreach (var node in nodes) server.WriteNodeKubeconfig(Path.Combine(dir, $"node-{node}.conf"), node);
        foreach (var node in expiredNodes) server.WriteExpiredNodeKubeconfig(Path.Combine(dir, $"node-{node}-expired.conf"), node);
        if (bootstrapKubeconfig is not null)
        {
            var token = server.CreateBootstrapToken();
            server.WriteBootstrapKubeconfig(bootstrapKubeconfig, token);
            Console.WriteLine($"bootstrap kubeconfig: {bootstrapKubeconfig} (user system:bootstrap:{token.Split('.')[0]})");
        }

        if (printJoinCommand)
        {
            Console.WriteLine($"Join-KubeletCluster -Server 127.0.0.1:{server.Port} -Token {server.CreateBootstrapToken()} -CACertHash {server.CaCertHash}");
        }

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

    /// <summary>The positive Go duration given to <paramref name="option"/>, or null after saying on stderr what is wrong with it.</summary>
    private static TimeSpan? PositiveDuration(string option, string text, string examples)
    {
        if (KubeletPS.Core.Configuration.GoDuration.TryParse(text, out var value) && value > TimeSpan.Zero) return value;
        Console.Error.WriteLine($"{option}: invalid duration \"{text}\" (for example {examples})");
        return null;
    }

    /// <summary>kube-apiserver's --feature-gates as this server has them: PortForwardWebsockets=true|false.</summary>
    private static bool TryParsePortForwardGate(string gates, ref bool enabled)
    {
        var parts = gates.Split('=', 2);
        if (parts.Length != 2 || parts[0] != "PortForwardWebsockets" || !bool.TryParse(parts[1], out var value)) return false;
        enabled = value;
        return true;
    }
}
