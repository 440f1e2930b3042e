using System.Text;
using k8s;
using KubeletPS.Core.Api;
using KubeletPS.Core.Configuration.Clientcmd;
using KubeletPS.Core.Join;
using Xunit.Abstractions;

namespace KubeletPS.Core.Tests.Api;

/// <summary>
/// Attacks on the node's memory through API responses: a hostile server (or a man in the middle where TLS is not verified)
/// sends a body without end. Each read must stop at its limit, say which limit and which URL, and leave the rest unsent.
/// </summary>
public sealed class ResponseBodyLimitTests(ITestOutputHelper output)
{
    private const long MiB = 1024 * 1024;
    // What the kernel's socket buffers (both ends of a loopback connection) can hold beyond what the client read.
    // What the server may have written beyond what the client read: the kernel's socket buffers, up to their
    // maxima (tcp_rmem and tcp_wmem autotuning; 4 MiB each was too little: 68.1 MiB was sent once for a 64 MiB limit).
    private static readonly long SocketSlack = MaxSocketBuffer("tcp_rmem") + MaxSocketBuffer("tcp_wmem") + MiB;

    private static long MaxSocketBuffer(string name)
    {
        try { return long.Parse(File.ReadAllText($"/proc/sys/net/ipv4/{name}").Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries)[2], System.Globalization.CultureInfo.InvariantCulture); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException) { return 4 * MiB; }
    }

    private static ClusterInfoDiscoveryOptions Discovery(HostileApiServer server) => new()
    {
        ApiServerEndpoint = $"127.0.0.1:{server.Port}",
        Token = BootstrapTokenString.Parse("abcdef.0123456789abcdef"),
        UnsafeSkipCAVerification = true,
        Timeout = TimeSpan.FromSeconds(30),
        RetryInterval = TimeSpan.FromMilliseconds(100),
    };

    private static Kubeconfig Trusting(HostileApiServer server) => new("hostile kubeconfig", "hostile", "hostile", "node")
    {
        Server = server.Url,
        CertificateAuthorityData = Encoding.ASCII.GetBytes(server.CertificatePem),
    };

    private void Report(string what, HostileApiServer server, long allocated) =>
        output.WriteLine($"{what}: the server sent {server.BytesSent / (double)MiB:0.0} MiB of its {server.BodyBytes / MiB} MiB body in {server.Requests} request(s); " +
            $"the client allocated {allocated / (double)MiB:0.0} MiB");

    [Theory]
    [InlineData(HostileBody.EndlessChunked)]
    [InlineData(HostileBody.ContentLength)]
    public async Task Discovery_stops_reading_a_100_MiB_cluster_info_at_1_MiB(HostileBody body)
    {
        await using var server = new HostileApiServer(body);
        var before = GC.GetTotalAllocatedBytes(precise: true);

        var error = await Assert.ThrowsAsync<JoinException>(() => new ClusterInfoDiscovery().DiscoverAsync(Discovery(server), null, CancellationToken.None));

        var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        Report($"cluster-info, {body}", server, allocated);
        Assert.Equal(JoinProblem.ClusterInfoInvalid, error.Problem);
        Assert.Contains("1 MiB limit", error.Message, StringComparison.Ordinal);
        Assert.Contains(server.Url + ClusterInfoDiscovery.ClusterInfoPath, error.Message, StringComparison.Ordinal);
        // Refused, not retried until the discovery timeout: a server that sends this is not asked again.
        Assert.Equal(1, server.Requests);
        Assert.InRange(server.BytesSent, 0, ClusterInfoDiscovery.MaxClusterInfoBytes + SocketSlack);
    }

    [Fact]
    public async Task A_list_through_the_engines_client_stops_at_64_MiB()
    {
        await using var server = new HostileApiServer(HostileBody.EndlessChunked, bodyBytes: 1024 * MiB);
        using var client = ApiClientFactory.CreateClient(Trusting(server));
        var identity = new ApiIdentity(server.Url, "node");
        var before = GC.GetTotalAllocatedBytes(precise: true);

        var error = await Assert.ThrowsAsync<KubeletApiException>(() => ApiCall.RunAsync(identity, "list", "pods", null,
            () => client.CoreV1.ListPodForAllNamespacesAsync(), CancellationToken.None));

        var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        Report("pod list", server, allocated);
        Assert.Equal(KubeletErrorKind.InvalidData, error.Category);
        Assert.Contains("64 MiB limit", error.Message, StringComparison.Ordinal);
        Assert.Contains(server.Url + "/api/v1/pods", error.Message, StringComparison.Ordinal);
        Assert.InRange(server.BytesSent, ResponseBodyLimitHandler.DefaultMaxBytes, ResponseBodyLimitHandler.DefaultMaxBytes + SocketSlack);
    }

    [Fact]
    public async Task A_watch_event_line_through_the_engines_client_stops_at_64_MiB()
    {
        await using var server = new HostileApiServer(HostileBody.EndlessWatchLine, bodyBytes: 1024 * MiB);
        using var client = ApiClientFactory.CreateClient(Trusting(server));
        Exception? failure = null;

        try
        {
            await foreach (var _ in client.CoreV1.WatchListPodForAllNamespacesAsync(onError: e => failure ??= e))
            {
                Assert.Fail("the endless line is no event");
            }
        }
        catch (Exception e)
        {
            failure ??= e;
        }

        Report("pod watch", server, 0);
        var tooLarge = Assert.IsType<ResponseTooLargeException>(Innermost(Assert.IsAssignableFrom<Exception>(failure)));
        Assert.Contains("64 MiB limit for one watch event", tooLarge.Message, StringComparison.Ordinal);
        Assert.Contains("watch=true", tooLarge.Message, StringComparison.Ordinal);
        Assert.InRange(server.BytesSent, ResponseBodyLimitHandler.DefaultMaxBytes, ResponseBodyLimitHandler.DefaultMaxBytes + SocketSlack);
    }

    [Fact]
    public async Task A_raw_request_names_the_limit_and_the_url()
    {
        await using var server = new HostileApiServer(HostileBody.EndlessChunked);

        var error = await Assert.ThrowsAsync<KubeletApiException>(() => ApiRequester.SendAsync(Trusting(server),
            new ApiRequestOptions { Path = "/api/v1/nodes", MaxResponseBytes = 2 * MiB, Anonymous = true }, CancellationToken.None));

        Report("raw GET", server, 0);
        Assert.Equal(KubeletErrorKind.InvalidData, error.Category);
        Assert.Equal(server.Url + "/api/v1/nodes", error.Target);
        Assert.Contains("2 MiB limit", error.Message, StringComparison.Ordinal);
        Assert.InRange(server.BytesSent, 2 * MiB, 2 * MiB + SocketSlack);
    }

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is not null) e = e.InnerException;
        return e;
    }
}
