using System.Text;
using KubeletPS.Core.Server;
using KubeletPS.TestCluster.Pki;
using KubeletPS.TestCluster.Server;
using Xunit.Abstractions;

namespace KubeletPS.Core.Tests.Server;

/// <summary>
/// The kubelet port attacked below HTTP's happy path: bodies that never end from clients who may not send one, headers
/// that trickle in or weigh megabytes. Kestrel's limits (<see cref="KubeletServerLimits"/>) must close these connections,
/// and the server must not read what it is going to refuse.
/// </summary>
public sealed class KubeletPortLimitsAttackTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const long GiB = 1L << 30;
    private TestApiServer _api = null!;

    public async Task InitializeAsync() => _api = await TestApiServer.StartAsync();

    public async Task DisposeAsync() => await _api.DisposeAsync();

    /// <summary>
    /// Sends a chunked POST of up to 1 GiB and returns how much the client got to write before the server answered and
    /// closed, the status, and the bytes this process allocated meanwhile (client included; its buffer is reused).
    /// </summary>
    private static async Task<(long Written, int? Status, bool Closed, long Allocated)> PostEndlessBodyAsync(KubeletServerTestHost host, string path,
        IssuedCertificate? who)
    {
        await using var connection = await RawKubeletConnection.OpenAsync(host, who);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        await connection.WriteAsync($"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n", cts.Token);
        var chunk = new byte[64 * 1024];
        Array.Fill(chunk, (byte)'a');
        var frameHead = Encoding.ASCII.GetBytes($"{chunk.Length:x}\r\n");
        var frameTail = "\r\n"u8.ToArray();
        var reader = connection.ReadUntilClosedAsync(cts.Token);
        long written = 0;
        try
        {
            while (written < GiB && !reader.IsCompleted)
            {
                await connection.Stream.WriteAsync(frameHead, cts.Token);
                await connection.Stream.WriteAsync(chunk, cts.Token);
                await connection.Stream.WriteAsync(frameTail, cts.Token);
                written += chunk.Length;
            }
        }
        catch (IOException)
        {
            // the server closed the connection under the writer
        }
        var closed = await reader;
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
        var text = connection.Received;
        int? status = text.StartsWith("HTTP/1.1 ", StringComparison.Ordinal) ? int.Parse(text.AsSpan(9, 3)) : null;
        return (written, status, closed, allocated);
    }

    [Fact]
    public async Task An_endless_body_from_a_client_who_is_refused_is_not_read()
    {
        await using var host = await KubeletServerTestHost.StartAsync(_api);
        IssuedCertificate? anonymous = null;
        var nobody = _api.IssueClientCertificate("nobody");
        var cases = new (string Path, IssuedCertificate? Who, int Status)[]
        {
            ("/stats/summary", anonymous, 401), ("/exec/default/web/main?command=sh&input=1", anonymous, 401),
            ("/run/default/web/main?cmd=ls", anonymous, 401), ("/nothing/here", anonymous, 401),
            ("/stats/summary", nobody, 403), ("/run/default/web/main?cmd=ls", nobody, 403),
        };
        foreach (var (path, who, expected) in cases)
        {
            var (written, status, closed, allocated) = await PostEndlessBodyAsync(host, path, who);
            output.WriteLine($"POST {path} as {(who is null ? "anonymous" : "nobody")}: {status}, client wrote {written / (1 << 20)} MiB " +
                             $"before the server closed ({closed}), {allocated / (1 << 20)} MiB allocated in this process");
            Assert.Equal(expected, status);
            Assert.True(closed, $"{path}: the server kept the connection open after refusing it");
            // Go's server discards at most 256 KiB of an unread body, then closes; the loopback's socket buffers hold a few MiB
            // (measured: 0-4 MiB here, 32 MiB before the refusals closed the connection, when Kestrel drained up to its 30 MB body limit).
            Assert.True(written < 8L << 20, $"{path}: the server read {written} bytes of a body it refused");
            Assert.True(allocated < 64L << 20, $"{path}: {allocated} bytes allocated while a refused body was sent");
        }
    }

    /// <summary>Writes <paramref name="piece"/> every 200 ms until the server closes the connection or <paramref name="pieces"/> are sent; how many went.</summary>
    private static async Task<(int Sent, bool Closed)> TrickleAsync(RawKubeletConnection connection, string head, Func<int, string> piece, int pieces)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await connection.WriteAsync(head, cts.Token);
        var reader = connection.ReadUntilClosedAsync(cts.Token);
        var sent = 0;
        try
        {
            while (sent < pieces && !reader.IsCompleted)
            {
                await Task.WhenAny(reader, Task.Delay(200, cts.Token));
                if (reader.IsCompleted) break;
                await connection.WriteAsync(piece(sent), cts.Token);
                sent++;
            }
        }
        catch (IOException)
        {
            // closed under the writer
        }
        cts.CancelAfter(TimeSpan.FromSeconds(10));
        return (sent, await reader);
    }

    [Fact]
    public async Task Headers_that_trickle_in_are_closed_by_the_request_headers_timeout()
    {
        await using var host = await KubeletServerTestHost.StartAsync(_api, o => o with { Limits = o.Limits with { RequestHeadersTimeout = TimeSpan.FromSeconds(2) } });
        await using var connection = await RawKubeletConnection.OpenAsync(host);

        // 300 headers 200 ms apart would take a minute; the 2 s limit ends the request long before.
        var (sent, closed) = await TrickleAsync(connection, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n", i => $"X-Slow-{i % 50}: {i}\r\n", 300);
        output.WriteLine($"closed {closed} after {sent} header lines; received: {connection.Received.Split("\r\n")[0]}");

        Assert.True(closed, "the connection stayed open");
        Assert.True(sent < 300, "every header line was accepted");
        Assert.True(connection.Received.Length == 0 || connection.Received.StartsWith("HTTP/1.1 408 ", StringComparison.Ordinal), connection.Received);
    }

    [Fact]
    public async Task A_body_that_trickles_in_is_closed_by_the_minimum_data_rate()
    {
        await using var host = await KubeletServerTestHost.StartAsync(_api, o => o with
        {
            AuthorizationMode = "AlwaysAllow",
            Limits = o.Limits with { MinRequestBodyBytesPerSecond = 240, MinRequestBodyGracePeriod = TimeSpan.FromSeconds(2) },
        });
        await using var connection = await RawKubeletConnection.OpenAsync(host, _api.IssueClientCertificate("kube-apiserver-kubelet-client", "system:masters"));

        // /stats/summary reads its form: 5 bytes a second of a 100000-byte form is far below 240 B/s.
        var (sent, closed) = await TrickleAsync(connection,
            "POST /stats/summary HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n", _ => "a", 300);
        output.WriteLine($"closed {closed} after {sent} body bytes; received: {connection.Received.Split("\r\n")[0]}");

        Assert.True(closed, "the connection stayed open");
        Assert.True(sent < 300, "the whole trickle was read");
    }

    [Theory]
    [InlineData(2 << 20, 1)] // one header of 2 MiB: over kubelet's MaxHeaderBytes (1 MiB)
    [InlineData(10, 150)] // 150 headers: over the header count
    public async Task Too_large_or_too_many_headers_are_refused_431(int size, int count)
    {
        await using var host = await KubeletServerTestHost.StartAsync(_api);
        await using var connection = await RawKubeletConnection.OpenAsync(host);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var headers = string.Concat(Enumerable.Range(0, count).Select(i => $"X-H{i}: {new string('h', size)}\r\n"));
        var reader = connection.ReadStatusAsync(cts.Token);
        try
        {
            await connection.WriteAsync($"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n", cts.Token);
        }
        catch (IOException)
        {
            // the server answered and closed before the headers were all sent
        }
        var status = await reader;
        output.WriteLine($"{count} header(s) of {size} bytes: {status}");

        Assert.Equal(431, status);
        Assert.True(await connection.ReadUntilClosedAsync(cts.Token), "the connection stayed open after 431");
    }

    [Fact]
    public async Task A_long_request_line_and_large_headers_within_kubelets_limit_reach_authentication()
    {
        // kubelet takes 1 MiB of request line and headers (a long exec command is a long query); Kestrel's own defaults
        // (8 KiB of request line, 32 KiB of headers) would refuse these with 414 and 431.
        await using var host = await KubeletServerTestHost.StartAsync(_api);
        using var client = host.Client();
        var command = string.Concat(Enumerable.Repeat("&command=echo%20aaaaaaaaaaaaaaaa", 3000));
        using var request = new HttpRequestMessage(HttpMethod.Get, "/exec/default/web/main?output=1" + command);
        request.Headers.Add("X-Large", new string('x', 512 << 10));

        using var response = await client.SendAsync(request);

        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, response.StatusCode);
    }
}
