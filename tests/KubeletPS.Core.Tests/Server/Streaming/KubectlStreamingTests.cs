using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using KubeletPS.Core.Tests.Runtime;
using KubeletPS.Core.Tests.Support;
using KubeletPS.Core.Tests.TestCluster;
using KubeletPS.TestCluster.Auth;
using KubeletPS.TestCluster.Server;

namespace KubeletPS.Core.Tests.Server.Streaming;

/// <summary>
/// kubectl 1.32 exec, attach and port-forward through the test API server (pods/exec, attach,
/// portforward proxied with the upgrade to the node's kubelet port) to a kubelet's streaming
/// endpoints on HTTPS, and on to containerd's streaming server.
/// </summary>
[Collection(ContainerdCollection.Name)]
public sealed class KubectlStreamingTests(ContainerdFixture fixture) : IAsyncLifetime
{
    private const string NodeName = KubeletServerTestHost.NodeName;
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("kubeletps-stream-");
    private TestApiServer _server = null!;

    private string AdminConf => Path.Combine(_dir.FullName, "admin.conf");

    public async Task InitializeAsync()
    {
        _server = await TestObjects.StartServerAsync(new TestApiServerOptions
        {
            Pki = TestObjects.SharedPki,
            Rules =
            [
                new PolicyRule { Users = ["viewer"], Verbs = ["get", "list"], Resources = ["pods"] },
                // get (not create) on pods/exec: what kube-apiserver before 1.31 let open an exec WebSocket.
                new PolicyRule { Users = ["exec-getter"], Verbs = ["get"], Resources = ["pods", "pods/exec"] },
            ],
        });
        _server.WriteAdminKubeconfig(AdminConf);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _dir.Delete(true);
    }

    [Fact]
    public async Task Kubectl_exec_prints_the_commands_output()
    {
        await using var kubelet = await StartKubeletAsync();

        var result = await KubectlAsync(AdminConf, null, "exec", PodName(kubelet), "--", "ls", "/");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("bin", result.Stdout.Split('\n'));
        // kubectl 1.32 asks for a v5.channel.k8s.io WebSocket; the API server accepts it and speaks
        // SPDY to the kubelet, so kubectl needs no fallback: one pods/exec request, upgraded.
        AssertOneUpgrade("pods/exec");
    }

    [Fact]
    public async Task Kubectl_exec_exits_with_the_commands_exit_code()
    {
        await using var kubelet = await StartKubeletAsync();

        var result = await KubectlAsync(AdminConf, null, "exec", PodName(kubelet), "--", "sh", "-c", "exit 3");

        Assert.True(result.ExitCode == 3, result.ToString());
        AssertOneUpgrade("pods/exec");
    }

    [Fact]
    public async Task Kubectl_exec_with_stdin_passes_the_input_to_the_command()
    {
        await using var kubelet = await StartKubeletAsync();

        var result = await KubectlAsync(AdminConf, "line one\nline two\n", "exec", "-i", PodName(kubelet), "--", "cat");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("line one\nline two\n", result.Stdout);
        AssertOneUpgrade("pods/exec");
    }

    [Fact]
    public async Task Kubectl_exec_with_a_tty_runs_an_interactive_shell_in_tmux()
    {
        await using var kubelet = await StartKubeletAsync();
        // A tmux server of this test's own (-L), so other sessions on the machine are never touched.
        var socket = "kps-" + Guid.NewGuid().ToString("N")[..8];
        var done = Path.Combine(_dir.FullName, "tty-done");
        var command = $"env HOME={_dir.FullName} KUBECACHEDIR={_dir.FullName}/cache kubectl --kubeconfig {AdminConf} exec -it {PodName(kubelet)} -- sh; echo exit=$? > {done}; sleep 30";
        await RunAsync("tmux", "-L", socket, "new-session", "-d", "-s", "tty", "-x", "120", "-y", "30", command);
        try
        {
            var prompt = await WaitForPaneAsync(socket, pane => pane.Contains("/ #", StringComparison.Ordinal), "the shell's prompt");
            await RunAsync("tmux", "-L", socket, "send-keys", "-t", "tty", "echo $((6*7)); tty; exit 4", "Enter");
            var pane = await WaitForPaneAsync(socket, _ => File.Exists(done), "kubectl to exit");

            Assert.Contains("/ #", prompt, StringComparison.Ordinal);
            Assert.Contains("\n42\n", pane.Replace("\r", "", StringComparison.Ordinal), StringComparison.Ordinal);
            Assert.Contains("/dev/pts/", pane, StringComparison.Ordinal);
            Assert.Equal("exit=4", (await File.ReadAllTextAsync(done)).Trim());
            AssertOneUpgrade("pods/exec");
        }
        finally
        {
            await RunAsync("tmux", "-L", socket, "kill-server");
        }
    }

    [Fact]
    public async Task Kubectl_exec_without_create_on_pods_exec_is_forbidden()
    {
        await using var kubelet = await StartKubeletAsync();
        var viewer = Path.Combine(_dir.FullName, "viewer.conf");
        _server.WriteKubeconfig(viewer, "viewer");

        var result = await KubectlAsync(viewer, null, "exec", PodName(kubelet), "--", "true");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("User \"viewer\" cannot create resource \"pods/exec\"", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_exec_websocket_needs_create_on_pods_exec_not_only_get()
    {
        await using var kubelet = await StartKubeletAsync();
        var certificate = _server.IssueClientCertificate("exec-getter").WithKey();
        using var socket = new System.Net.WebSockets.ClientWebSocket();
        socket.Options.AddSubProtocol(ChannelWebSocket.V4Protocol);
        socket.Options.ClientCertificates.Add(certificate);
        var ca = _server.Pki.CA.Certificate;
        socket.Options.RemoteCertificateValidationCallback = (_, cert, _, _) =>
        {
            using var chain = new System.Security.Cryptography.X509Certificates.X509Chain();
            chain.ChainPolicy.TrustMode = System.Security.Cryptography.X509Certificates.X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(ca);
            chain.ChainPolicy.RevocationMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck;
            return cert is not null && chain.Build(new System.Security.Cryptography.X509Certificates.X509Certificate2(cert));
        };
        socket.Options.CollectHttpResponseDetails = true;
        var url = new Uri($"wss://127.0.0.1:{_server.Port}/api/v1/namespaces/default/pods/{PodName(kubelet)}/exec?command=id&stdout=true");

        await Assert.ThrowsAsync<System.Net.WebSockets.WebSocketException>(() => socket.ConnectAsync(url, CancellationToken.None));

        Assert.Equal(HttpStatusCode.Forbidden, socket.HttpStatusCode);
        Assert.Contains(_server.RequestLog.Entries, e => e.User == "exec-getter" && e.Resource == "pods/exec" && e.Verb == "create" && e.StatusCode == 403);
    }

    [Fact]
    public async Task Exec_straight_to_the_kubelet_port_is_refused_when_the_SubjectAccessReview_denies_it()
    {
        await using var kubelet = await StartKubeletAsync();
        // viewer may read pods in the API, but has no nodes/proxy: the kubelet's SubjectAccessReview says no.
        using var http = kubelet.Kubelet!.Client(_server.IssueClientCertificate("viewer"));
        var request = new HttpRequestMessage(HttpMethod.Post, $"/exec/default/{PodName(kubelet)}/{StreamingHost.Container}?command=id&output=1");
        request.Headers.Connection.Add("Upgrade");
        request.Headers.Upgrade.Add(new System.Net.Http.Headers.ProductHeaderValue("SPDY", "3.1"));
        request.Headers.Add("X-Stream-Protocol-Version", "v4.channel.k8s.io");

        var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("Forbidden (user=viewer, verb=create, resource=nodes, subresource=proxy)", (await response.Content.ReadAsStringAsync()).Trim());
    }

    [Fact]
    public async Task Kubectl_attach_streams_what_the_container_prints()
    {
        await using var kubelet = await StartKubeletAsync("sh", "-c", "while true; do echo tick; sleep 0.3; done");

        var output = await KubectlUntilAsync(AdminConf, "tick", false, "attach", PodName(kubelet));

        Assert.Contains("tick", output.Output, StringComparison.Ordinal);
        AssertOneUpgrade("pods/attach");
    }

    [Fact]
    public async Task Kubectl_port_forward_carries_an_http_request_to_the_pods_server()
    {
        await using var kubelet = await StartKubeletAsync("sh", "-c", HttpdScript);

        Assert.Equal("hello-through-port-forward\n", await GetThroughPortForwardAsync(kubelet));

        // kubectl 1.32 asked for a WebSocket (SPDY/3.1+portforward.k8s.io) and the API server tunnelled it to the kubelet's SPDY:
        // one pods/portforward request, upgraded, and no SPDY fallback.
        Assert.Equal(1, _server.PortForwardTunnels);
        AssertOneUpgrade("pods/portforward");
    }

    [Fact]
    public async Task Kubectl_port_forward_falls_back_to_SPDY_when_the_API_server_does_not_tunnel_the_WebSocket()
    {
        // kube-apiserver with PortForwardWebsockets off: the WebSocket goes to the kubelet as it is and is refused there.
        await _server.DisposeAsync();
        _server = await TestObjects.StartServerAsync(new TestApiServerOptions { Pki = TestObjects.SharedPki, PortForwardWebsockets = false });
        _server.WriteAdminKubeconfig(AdminConf);
        await using var kubelet = await StartKubeletAsync("sh", "-c", HttpdScript);

        Assert.Equal("hello-through-port-forward\n", await GetThroughPortForwardAsync(kubelet));

        Assert.Equal(0, _server.PortForwardTunnels);
        var wait = Stopwatch.StartNew();
        List<int> Attempts() => _server.RequestLog.Entries.Where(e => e.Resource == "pods/portforward").Select(e => e.StatusCode).ToList();
        while (Attempts().Count < 2 && wait.Elapsed < TimeSpan.FromSeconds(15)) Thread.Sleep(100);
        var attempts = Attempts();
        Assert.True(attempts is [not 101, 101], "pods/portforward answers: " + string.Join(", ", attempts));
    }

    private const string HttpdScript = "mkdir -p /tmp/www && echo hello-through-port-forward > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www";

    /// <summary>Runs kubectl port-forward to the pod's port 8080 and GETs /index.html through it.</summary>
    private async Task<string> GetThroughPortForwardAsync(StreamingHost kubelet)
    {
        var forwarding = await KubectlUntilAsync(AdminConf, "Forwarding from 127.0.0.1:", true, "port-forward", PodName(kubelet), ":8080");
        try
        {
            var localPort = int.Parse(forwarding.Output.Split("Forwarding from 127.0.0.1:")[1].Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
            try
            {
                return await RetryAsync(() => http.GetStringAsync(new Uri($"http://127.0.0.1:{localPort}/index.html")));
            }
            catch (HttpRequestException e)
            {
                forwarding.Process!.Kill(entireProcessTree: true);
                throw new HttpRequestException($"{e.Message}; kubectl port-forward stderr: {await forwarding.Stderr!}", e);
            }
        }
        finally
        {
            forwarding.Process!.Kill(entireProcessTree: true);
            forwarding.Process.Dispose();
        }
    }

    private static string PodName(StreamingHost kubelet) => kubelet.Pod.Metadata.Name;

    /// <summary>kubectl's WebSocket was accepted at once (translated to SPDY): no refused attempt, no SPDY fallback.</summary>
    private void AssertOneUpgrade(string resource)
    {
        // An entry is logged when its request ends: a stream kubectl was stopped on may take a moment.
        var wait = Stopwatch.StartNew();
        while (!_server.RequestLog.Entries.Any(e => e.Resource == resource) && wait.Elapsed < TimeSpan.FromSeconds(15)) Thread.Sleep(100);
        var attempts = _server.RequestLog.Entries.Where(e => e.Resource == resource).Select(e => e.StatusCode).ToList();
        Assert.True(attempts is [101], $"{resource} answers: " + string.Join(", ", attempts));
    }

    /// <summary>
    /// The kubelet server (its own self-signed serving certificate, client CA the cluster's) with one running pod,
    /// its Node (InternalIP 127.0.0.1, daemonEndpoints the server's port) and its Pod in the API.
    /// </summary>
    private async Task<StreamingHost> StartKubeletAsync(params string[] command)
    {
        var kubelet = await StreamingHost.StartOnKubeletServerAsync(fixture, _server, "Webhook", command);
        var node = TestObjects.Node(NodeName);
        node["status"]!["addresses"] = new JsonArray(new JsonObject { ["type"] = "InternalIP", ["address"] = "127.0.0.1" });
        node["status"]!["daemonEndpoints"] = new JsonObject { ["kubeletEndpoint"] = new JsonObject { ["Port"] = kubelet.BaseUri.Port } };
        _server.Store.Create("nodes", node);
        var pod = TestObjects.Pod(kubelet.Pod.Metadata.Name, NodeName);
        pod["spec"]!["containers"]![0]!["name"] = StreamingHost.Container;
        _server.Store.Create("pods", pod);
        _server.Store.Update("pods", "default", kubelet.Pod.Metadata.Name, p => p["status"] = new JsonObject { ["phase"] = "Running" });
        return kubelet;
    }

    private TestKubectl Kubectl(string kubeconfig) => new(kubeconfig, _dir.FullName);

    /// <summary>kubectl to its end (90 s at most); its input is <paramref name="stdin"/>, or closed at once.</summary>
    private Task<KubectlResult> KubectlAsync(string kubeconfig, string? stdin, params string[] args) => Kubectl(kubeconfig).RunAsync(args, stdin ?? "", 90);

    private sealed record Streaming(string Output, Process? Process, Task<string>? Stderr = null);

    /// <summary>Runs kubectl until its stdout shows <paramref name="marker"/>; stops it unless <paramref name="keepRunning"/>.</summary>
    private async Task<Streaming> KubectlUntilAsync(string kubeconfig, string marker, bool keepRunning, params string[] args)
    {
        var process = Process.Start(Kubectl(kubeconfig).StartInfo(args, input: true))!;
        var output = new System.Text.StringBuilder();
        var seen = new TaskCompletionSource();
        var stderr = process.StandardError.ReadToEndAsync();
        _ = Task.Run(async () =>
        {
            var buffer = new char[4096];
            int read;
            while ((read = await process.StandardOutput.ReadAsync(buffer)) > 0)
            {
                lock (output)
                {
                    output.Append(buffer, 0, read);
                    if (output.ToString().Contains(marker, StringComparison.Ordinal)) seen.TrySetResult();
                }
            }

            seen.TrySetResult();
        });
        try
        {
            await seen.Task.WaitAsync(TimeSpan.FromSeconds(90));
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"kubectl {string.Join(' ', args)} did not print '{marker}'; stdout: {output}");
        }

        string text;
        lock (output) text = output.ToString();
        if (!text.Contains(marker, StringComparison.Ordinal))
        {
            await process.WaitForExitAsync();
            throw new InvalidOperationException($"kubectl {string.Join(' ', args)} exited {process.ExitCode} before '{marker}'; stdout: {text}; stderr: {await stderr}");
        }

        if (keepRunning) return new Streaming(text, process, stderr);
        process.Kill(entireProcessTree: true);
        process.Dispose();
        return new Streaming(text, null);
    }

    private static async Task<string> RunAsync(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        return process.ExitCode == 0 ? await stdout : throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {process.ExitCode}: {await stderr}");
    }

    private static async Task<string> WaitForPaneAsync(string socket, Func<string, bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (true)
        {
            var pane = await RunAsync("tmux", "-L", socket, "capture-pane", "-p", "-t", "tty");
            if (condition(pane)) return pane;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"waited for {what}; the pane shows:\n{pane}");
            await Task.Delay(200);
        }
    }

    /// <summary>The pod's server may take a moment to listen after the container started.</summary>
    private static async Task<T> RetryAsync<T>(Func<Task<T>> call)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await call();
            }
            catch (HttpRequestException) when (attempt < 20)
            {
                await Task.Delay(250);
            }
        }
    }
}
