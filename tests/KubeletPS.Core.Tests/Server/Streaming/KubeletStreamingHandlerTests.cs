using System.Net;
using System.Text.Json.Nodes;
using KubeletPS.Core.Tests.Runtime;

namespace KubeletPS.Core.Tests.Server.Streaming;

/// <summary>
/// The kubelet's /exec, /attach, /run and /portForward endpoints against containerd's real streaming
/// server, through the upgrade-aware proxy: what comes back is what the runtime sent.
/// </summary>
[Collection(ContainerdCollection.Name)]
public sealed class KubeletStreamingHandlerTests(ContainerdFixture fixture)
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Exec_over_a_websocket_returns_the_output_and_the_exit_code_in_the_error_channel_status()
    {
        await using var host = await StreamingHost.StartAsync(fixture);
        using var cts = new CancellationTokenSource(Limit);
        var path = $"/exec/{host.Pod.Metadata.NamespaceProperty}/{host.Pod.Metadata.Name}/{StreamingHost.Container}"
            + "?command=sh&command=-c&command=echo%20out%3B%20echo%20err%20%3E%262%3B%20exit%203&output=1&error=1";
        using var socket = await ChannelWebSocket.ConnectAsync(host.Url(path, webSocket: true), cts.Token);

        var channels = await socket.ReadToEndAsync(cts.Token);

        Assert.Equal(ChannelWebSocket.V4Protocol, socket.Subprotocol);
        Assert.Equal("out\n", channels.GetValueOrDefault(1));
        Assert.Equal("err\n", channels.GetValueOrDefault(2));
        var status = JsonNode.Parse(channels[3])!;
        Assert.Equal("Failure", status["status"]!.GetValue<string>());
        Assert.Equal("NonZeroExitCode", status["reason"]!.GetValue<string>());
        var cause = status["details"]!["causes"]!.AsArray().Single(c => c!["reason"]!.GetValue<string>() == "ExitCode")!;
        Assert.Equal("3", cause["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task Exec_with_the_uid_in_the_path_reaches_the_same_container()
    {
        await using var host = await StreamingHost.StartAsync(fixture);
        using var cts = new CancellationTokenSource(Limit);
        var path = $"/exec/{host.Pod.Metadata.NamespaceProperty}/{host.Pod.Metadata.Name}/{host.Pod.Metadata.Uid}/{StreamingHost.Container}?command=ls&command=/&output=1";
        using var socket = await ChannelWebSocket.ConnectAsync(host.Url(path, webSocket: true), cts.Token);

        var channels = await socket.ReadToEndAsync(cts.Token);

        Assert.Contains("bin", channels.GetValueOrDefault(1), StringComparison.Ordinal);
        Assert.Equal("Success", JsonNode.Parse(channels[3])!["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task Exec_into_a_container_the_pod_does_not_run_answers_kubelets_container_not_found()
    {
        await using var host = await StreamingHost.StartAsync(fixture);
        using var http = new HttpClient();

        var response = await http.SendAsync(UpgradeRequest(host.Url($"/exec/{host.Pod.Metadata.NamespaceProperty}/{host.Pod.Metadata.Name}/nope?command=true&output=1")));

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal("container not found (\"nope\")", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Exec_into_a_pod_the_kubelet_does_not_run_answers_404_pod_does_not_exist()
    {
        await using var host = await StreamingHost.StartAsync(fixture);
        using var http = new HttpClient();

        var response = await http.SendAsync(UpgradeRequest(host.Url($"/exec/default/no-such-pod/{StreamingHost.Container}?command=true&output=1")));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("pod does not exist", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Exec_without_any_stream_answers_400_naming_the_streams()
    {
        await using var host = await StreamingHost.StartAsync(fixture);
        using var http = new HttpClient();

        var response = await http.SendAsync(UpgradeRequest(host.Url($"/exec/{host.Pod.Metadata.NamespaceProperty}/{host.Pod.Metadata.Name}/{StreamingHost.Container}?command=true")));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("you must specify at least 1 of stdin, stdout, stderr", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Exec_that_is_not_an_upgrade_answers_400_upgrade_request_required()
    {
        await using var host = await StreamingHost.StartAsync(fixture);
        using var http = new HttpClient();

        var response = await http.PostAsync(host.Url($"/exec/{host.Pod.Metadata.NamespaceProperty}/{host.Pod.Metadata.Name}/{StreamingHost.Container}?command=true&output=1"), null);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("Upgrade request required", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Attach_over_a_websocket_streams_what_the_container_prints()
    {
        await using var host = await StreamingHost.StartAsync(fixture, null, "sh", "-c", "while true; do echo tick; sleep 0.2; done");
        using var cts = new CancellationTokenSource(Limit);
        var path = $"/attach/{host.Pod.Metadata.NamespaceProperty}/{host.Pod.Metadata.Name}/{StreamingHost.Container}?output=1";
        using var socket = await ChannelWebSocket.ConnectAsync(host.Url(path, webSocket: true), cts.Token);
        using var enough = CancellationTokenSource.CreateLinkedTokenSource(cts.Token);
        enough.CancelAfter(TimeSpan.FromSeconds(3));

        var channels = await ReadUntilCancelledAsync(socket, enough.Token);

        Assert.Contains("tick", channels.GetValueOrDefault(1), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_returns_the_commands_output_and_a_failing_command_as_kubelets_500()
    {
        await using var host = await StreamingHost.StartAsync(fixture);
        using var http = new HttpClient();
        var pod = $"{host.Pod.Metadata.NamespaceProperty}/{host.Pod.Metadata.Name}/{StreamingHost.Container}";

        var ok = await http.PostAsync(host.Url($"/run/{pod}?cmd=echo%20hello"), null);
        // cmd is split on spaces (kubelet's legacy form), so the failing command takes no quoting.
        var failed = await http.PostAsync(host.Url($"/run/{pod}?cmd=cat%20/nonexistent"), null);
        var get = await http.GetAsync(host.Url($"/run/{pod}?cmd=true"));

        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal("hello\n", await ok.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.InternalServerError, failed.StatusCode);
        Assert.StartsWith("command 'cat /nonexistent' exited with 1: cat: can't open '/nonexistent'", await failed.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, get.StatusCode);
    }

    [Fact]
    public async Task A_stream_idle_longer_than_the_idle_timeout_is_closed()
    {
        await using var host = await StreamingHost.StartAsync(fixture, TimeSpan.FromSeconds(1));
        using var cts = new CancellationTokenSource(Limit);
        // cat with stdin open and nothing sent: no byte moves after the first empty stdout frame.
        var path = $"/exec/{host.Pod.Metadata.NamespaceProperty}/{host.Pod.Metadata.Name}/{StreamingHost.Container}?command=cat&input=1&output=1";
        using var socket = await ChannelWebSocket.ConnectAsync(host.Url(path, webSocket: true), cts.Token);

        await socket.ReadToEndAsync(cts.Token);

        Assert.False(cts.IsCancellationRequested, "the idle stream was still open after a minute");
    }

    private static HttpRequestMessage UpgradeRequest(Uri url)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, url);
        request.Headers.Connection.Add("Upgrade");
        request.Headers.Upgrade.Add(new System.Net.Http.Headers.ProductHeaderValue("SPDY", "3.1"));
        request.Headers.Add("X-Stream-Protocol-Version", "v4.channel.k8s.io");
        return request;
    }

    private static async Task<IReadOnlyDictionary<int, string>> ReadUntilCancelledAsync(ChannelWebSocket socket, CancellationToken cancellationToken)
    {
        try
        {
            return await socket.ReadToEndAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            return socket.Received;
        }
    }
}
